"""Demo products: profiles plus the answers that differ from the questionnaire's first option.

``submission(item)`` turns an entry into a full submission document (profile + answers),
answering every other applicable question with its first (lowest-risk) option, so the
demo data stays short while every submission is complete and valid.
"""

from __future__ import annotations

import copy
from typing import Any

from policies.loader import load_pack
from review.domain.grading import applicable_questions
from review.domain.product import ProductProfile

PRODUCTS: list[dict[str, Any]] = [
    {
        "product": {
            "name": "Digital-human generation platform", "owner_team": "avatar-studio", "business_line": "Media cloud",
            "description": "Generates talking digital humans (face, voice, motion) from a photo and a script for marketing and live commerce.",
            "intended_users": ["enterprise", "general_public"], "deployment_regions": ["CN", "SG"],
            "data_categories": ["personal", "biometric"], "capabilities": ["generative_content", "conversational_agent"],
            "customers": ["Shoply Live", "BrightBank marketing", "Metro TV", "Golden Dragon Retail", "EduStream"],
        },
        "answers": {"user_scale": "over_1m", "personal_data_volume": "extensive", "sensitive_data": ["biometric_templates"],
                    "gen_modalities": ["video", "audio", "likeness"], "real_person_likeness": "with_consent",
                    "output_sharing": "shared_publicly", "training_data": "public_filtered", "compute_footprint": "large_with_plan"},
    },
    {
        "product": {
            "name": "Medical LLM assistant", "owner_team": "health-ai", "business_line": "Healthcare",
            "description": "Answers clinicians' questions and drafts discharge summaries from patient records.",
            "intended_users": ["employees", "patients"], "deployment_regions": ["CN"],
            "data_categories": ["personal", "health"], "capabilities": ["generative_content", "conversational_agent"],
            "customers": ["City No.1 Hospital", "Riverside Clinic", "Eastern Medical Group", "Harbor Children's Hospital"],
        },
        "answers": {"domain": "healthcare", "personal_data_volume": "extensive", "sensitive_data": ["health_records"],
                    "failure_harm": "injury_possible", "human_oversight": "human_reviews_before_effect",
                    "gen_modalities": ["text"], "retention": "over_1y"},
    },
    {
        "product": {
            "name": "City video analytics", "owner_team": "city-vision", "business_line": "Smart city",
            "description": "Crowd-flow counting, incident detection and person search across a city's camera network.",
            "intended_users": ["enterprise", "general_public"], "deployment_regions": ["CN"],
            "data_categories": ["personal", "biometric", "location"], "capabilities": ["biometric_identification", "surveillance"],
            "customers": ["Municipal traffic bureau", "Metro operations", "Stadium authority"],
        },
        "answers": {"domain": "public_safety", "user_scale": "over_1m", "personal_data_volume": "extensive",
                    "consent_basis": "legitimate_interest", "sensitive_data": ["biometric_templates", "precise_location"],
                    "biometric_setting": "public_spaces_retrospective", "surveillance_scope": "anonymous_tracks",
                    "ai_disclosure": "terms_only", "explainability": "internal_only"},
    },
    {
        "product": {
            "name": "In-cabin driver monitoring", "owner_team": "auto-cabin", "business_line": "Intelligent vehicles",
            "description": "Detects driver fatigue and distraction from an in-cabin camera and alerts the driver.",
            "intended_users": ["general_public"], "deployment_regions": ["CN", "EU"],
            "data_categories": ["personal", "biometric"], "capabilities": ["emotion_recognition", "autonomous_physical_action"],
            "customers": ["SAIC fleet pilot", "Blue Taxi Co", "Northern Logistics"],
        },
        "answers": {"domain": "transport", "sensitive_data": ["biometric_templates"], "emotion_context": "driver_safety",
                    "physical_environment": "homes_or_public_roads", "failure_harm": "injury_possible",
                    "human_oversight": "human_decides", "cross_border": "with_assessment"},
    },
    {
        "product": {
            "name": "Text-to-image for games", "owner_team": "game-art", "business_line": "Games",
            "description": "Concept art and texture generation inside the studio's game art pipeline.",
            "intended_users": ["employees"], "deployment_regions": ["CN", "US"],
            "data_categories": ["none"], "capabilities": ["generative_content"],
            "customers": ["Studio North", "Studio South", "Outsourced art partners"],
        },
        "answers": {"gen_modalities": ["image"], "training_data": "public_filtered", "content_filtering": "keywords_only",
                    "cultural_scope": "localized"},
    },
    {
        "product": {
            "name": "Remote-sensing platform", "owner_team": "geo-insight", "business_line": "Cloud",
            "description": "Land-use classification and crop monitoring from satellite imagery.",
            "intended_users": ["enterprise"], "deployment_regions": ["CN", "BR"],
            "data_categories": ["geospatial", "public"], "capabilities": [],
            "customers": ["Agri co-op Parana", "Provincial land bureau", "Forestry institute"],
        },
        "answers": {"domain": "industrial"},
    },
    {
        "product": {
            "name": "Board-game robot for children", "owner_team": "edu-robotics", "business_line": "Consumer devices",
            "description": "A tabletop robot arm that plays chess and Go with children and talks them through moves.",
            "intended_users": ["minors", "general_public"], "deployment_regions": ["CN", "JP"],
            "data_categories": ["personal", "children"], "capabilities": ["autonomous_physical_action", "conversational_agent"],
            "customers": ["Sunny Kids retail", "Go Academy", "Parents panel Beijing", "Parents panel Osaka"],
        },
        "answers": {"domain": "education", "age_assurance": "verified", "persuasive_design": "nudges_disclosed",
                    "sensitive_data": ["childrens_data"], "physical_environment": "homes_or_public_roads",
                    "emergency_stop": "tested", "failure_harm": "injury_possible"},
    },
    {
        "product": {
            "name": "SME credit scoring", "owner_team": "fin-risk", "business_line": "Fintech",
            "description": "Scores small-business loan applications from transaction history.",
            "intended_users": ["enterprise", "general_public"], "deployment_regions": ["CN"],
            "data_categories": ["personal", "financial"], "capabilities": ["automated_decisions"],
            "customers": ["Partner bank A", "Partner bank B", "Rural credit union"],
        },
        "answers": {"domain": "finance", "personal_data_volume": "profiling", "sensitive_data": ["financial_accounts"],
                    "decision_impact": "employment_credit_insurance", "bias_testing": "partial",
                    "human_oversight": "human_can_override", "explainability": "internal_only"},
    },
    {
        "product": {
            "name": "Customer-service copilot", "owner_team": "cx-platform", "business_line": "Enterprise software",
            "description": "Drafts replies for human agents in customer-service chats.",
            "intended_users": ["employees", "general_public"], "deployment_regions": ["CN", "EU", "US"],
            "data_categories": ["personal"], "capabilities": ["generative_content", "conversational_agent"],
            "customers": ["Airline CX centre", "Telecom helpdesk", "Retail bank contact centre"],
        },
        "answers": {"personal_data_volume": "limited", "gen_modalities": ["text"], "human_oversight": "human_decides",
                    "cross_border": "with_assessment", "cultural_scope": "localized"},
    },
    {
        "product": {
            "name": "Warehouse picking robot", "owner_team": "logistics-robotics", "business_line": "Logistics",
            "description": "Autonomous mobile robots that pick and move totes in warehouses shared with staff.",
            "intended_users": ["employees"], "deployment_regions": ["CN", "DE"],
            "data_categories": ["none"], "capabilities": ["autonomous_physical_action"],
            "customers": ["Warehouse Kunshan", "Warehouse Leipzig"],
        },
        "answers": {"domain": "industrial", "physical_environment": "shared_with_people", "failure_harm": "injury_possible",
                    "emergency_stop": "tested", "workforce_impact": "replaces_with_transition"},
    },
    {
        "product": {
            "name": "Elderly companion app", "owner_team": "silver-care", "business_line": "Consumer apps",
            "description": "A chat companion for elderly people that also recommends paid health products.",
            "intended_users": ["elderly"], "deployment_regions": ["CN"],
            "data_categories": ["personal", "health"], "capabilities": ["generative_content", "conversational_agent", "recommendation"],
            "customers": ["Community centre panel"],
        },
        "answers": {"persuasive_design": "covert_persuasion", "personal_data_volume": "profiling", "sensitive_data": ["health_records"],
                    "gen_modalities": ["text", "audio"], "ai_disclosure": "terms_only"},
    },
    {
        "product": {
            "name": "Code assistant", "owner_team": "dev-tools", "business_line": "Developer platform",
            "description": "Code completion and review suggestions inside the company's IDE plugin.",
            "intended_users": ["employees", "enterprise"], "deployment_regions": ["CN", "US"],
            "data_categories": ["none"], "capabilities": ["generative_content"],
            "customers": ["Internal platform teams", "Enterprise pilot customers"],
        },
        "answers": {"domain": "productivity", "gen_modalities": ["text"], "training_data": "public_filtered"},
    },
    {
        "product": {
            "name": "CV screening assistant", "owner_team": "talent-ai", "business_line": "HR SaaS",
            "description": "Ranks job applicants' CVs against a job description for recruiters.",
            "intended_users": ["enterprise", "general_public"], "deployment_regions": ["CN", "EU"],
            "data_categories": ["personal", "sensitive_personal"], "capabilities": ["automated_decisions"],
            "customers": ["Recruiting agency East", "Manufacturing group HR"],
        },
        "answers": {"personal_data_volume": "profiling", "sensitive_data": ["other_sensitive"], "decision_impact": "employment_credit_insurance",
                    "bias_testing": "not_tested", "demographic_features": "used_as_inputs", "human_oversight": "human_reviews_before_effect"},
    },
]


def submission(item: dict[str, Any]) -> dict[str, Any]:
    """A complete submission document: the listed answers, first options for the rest."""
    profile = ProductProfile.model_validate(item["product"])
    pack = load_pack(profile.policy).pack
    answers: dict[str, Any] = dict(item.get("answers", {}))
    # Questions may depend on earlier answers: fill in pack order until stable.
    for _ in range(3):
        normalized = {k: v if isinstance(v, list) else [v] for k, v in answers.items()}
        for q in applicable_questions(pack, profile, normalized):
            if q.id not in answers:
                answers[q.id] = [q.options[0].id] if q.kind == "multiple" else q.options[0].id
    normalized = {k: v if isinstance(v, list) else [v] for k, v in answers.items()}
    asked = {q.id for q in applicable_questions(pack, profile, normalized)}
    return copy.deepcopy({"product": item["product"], "answers": {k: v for k, v in answers.items() if k in asked}})


TEAM_SUBMITTERS = {p["product"]["owner_team"]: f"{p['product']['owner_team'].split('-')[0]}.lead" for p in PRODUCTS}
