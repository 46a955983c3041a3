"""The demo: a dozen realistic products walked through the review gates."""
