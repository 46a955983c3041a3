"""The audit row's state text, assembled from the images' own canonical texts (each image encoded once)."""

from review.services.audit import canonical, state_text


def test_state_text_is_the_canonical_json_of_the_images() -> None:
    images = {"review/7": {"a": 1, "é": [1, {"z": None, "b": "ü"}]}, "product/10": None, "Ä/1": {"x": 1.5}, "product/9": {}}
    assert state_text({k: canonical(images[k]) for k in sorted(images)}) == canonical(images)
    assert state_text({}) is None
