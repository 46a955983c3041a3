"""The product profile a team submits: what the AI product is, who uses it, what data it touches."""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from review.text import UNSAFE

_PACK_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class UserGroup(StrEnum):
    GENERAL_PUBLIC = "general_public"
    ENTERPRISE = "enterprise"
    EMPLOYEES = "employees"
    MINORS = "minors"
    ELDERLY = "elderly"
    PATIENTS = "patients"
    PEOPLE_WITH_DISABILITIES = "people_with_disabilities"
    OTHER_VULNERABLE = "other_vulnerable"


class DataCategory(StrEnum):
    NONE = "none"
    PUBLIC = "public"
    PERSONAL = "personal"
    SENSITIVE_PERSONAL = "sensitive_personal"
    BIOMETRIC = "biometric"
    HEALTH = "health"
    LOCATION = "location"
    FINANCIAL = "financial"
    CHILDREN = "children"
    BEHAVIOURAL = "behavioural"
    GEOSPATIAL = "geospatial"


class Capability(StrEnum):
    GENERATIVE_CONTENT = "generative_content"
    BIOMETRIC_IDENTIFICATION = "biometric_identification"
    AUTOMATED_DECISIONS = "automated_decisions"
    AUTONOMOUS_PHYSICAL_ACTION = "autonomous_physical_action"
    RECOMMENDATION = "recommendation"
    EMOTION_RECOGNITION = "emotion_recognition"
    SURVEILLANCE = "surveillance"
    CONVERSATIONAL_AGENT = "conversational_agent"


VULNERABLE_GROUPS = frozenset(
    {UserGroup.MINORS, UserGroup.ELDERLY, UserGroup.PATIENTS, UserGroup.PEOPLE_WITH_DISABILITIES, UserGroup.OTHER_VULNERABLE}
)


def _one_line(v: str) -> str:
    v = v.strip()
    if not v:
        raise ValueError("must not be blank")
    if UNSAFE.search(v) or "\t" in v or "\n" in v:
        raise ValueError("must not contain control or bidi characters (terminal escapes, tabs, newlines)")
    return v


class Supplier(BaseModel):
    """The third party whose model or generative product is reviewed before it is used or resold. Its ``contact``
    is the party the post-release follow-ups visit under a pack whose ``followups.visit`` is ``supplier``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=2, max_length=120)
    contact: str = Field(min_length=3, max_length=200, description="who answers the follow-ups: a person or role and how to reach them")
    offering: str = Field(default="", max_length=400, description="what they supply: the model, product or service and its version")
    contract: str = Field(default="", max_length=120, description="reference of the contract that binds them")

    @field_validator("name", "contact")
    @classmethod
    def _strip(cls, v: str) -> str:
        return _one_line(v)


class ProductProfile(BaseModel):
    """What a product team declares about its product (validated, extra fields refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=2, max_length=120)
    owner_team: str = Field(min_length=1, max_length=80)
    business_line: str = Field(min_length=1, max_length=80)
    description: str = Field(default="", max_length=4000)
    intended_users: list[UserGroup] = Field(min_length=1)
    deployment_regions: list[str] = Field(min_length=1)
    data_categories: list[DataCategory] = Field(min_length=1)
    capabilities: list[Capability] = Field(default_factory=list)
    #: Customers or user panels visited by post-release follow-ups.
    customers: list[str] = Field(default_factory=list)
    #: The supplier of a third-party model or partner's generative product (the ``third-party`` pack asks for it).
    supplier: Supplier | None = None
    policy: str = Field(default="default", description="id of the policy pack that reviews this product")

    @field_validator("name", "owner_team", "business_line")
    @classmethod
    def _strip(cls, v: str) -> str:
        return _one_line(v)

    @field_validator("policy")
    @classmethod
    def _policy_id(cls, v: str) -> str:
        if not _PACK_ID.match(v or ""):
            raise ValueError("name an installed policy pack by its id (e.g. default or eu-ai-act), never a path: "
                             "the committee installs packs, a product file only names one")
        return v

    @field_validator("deployment_regions")
    @classmethod
    def _regions(cls, v: list[str]) -> list[str]:
        out = [r.strip().upper() for r in v if r.strip()]
        if not out:
            raise ValueError("name at least one region, e.g. CN, EU, US")
        return out

    @property
    def serves_vulnerable_groups(self) -> bool:
        return any(u in VULNERABLE_GROUPS for u in self.intended_users)

    def facet(self, name: str) -> list[str]:
        """Values of a profile list field, used by pack conditions (``profile: capabilities``)."""
        value = getattr(self, name)
        return [str(v) for v in value]


PROFILE_FACETS = ("intended_users", "data_categories", "capabilities", "deployment_regions")
