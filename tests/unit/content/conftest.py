from pathlib import Path

import itertools

import pytest
import yaml

from policies.content_schema import ContentSafetyPolicy, load_content_library

PACK = Path(__file__).resolve().parents[3] / "policies" / "packs" / "default"


@pytest.fixture(scope="session")
def policy():
    return ContentSafetyPolicy.model_validate(yaml.safe_load((PACK / "content" / "content_safety.yaml").read_text()))


@pytest.fixture(scope="session")
def library(policy):
    return load_content_library(policy, PACK)


@pytest.fixture(scope="session")
def cfilter(policy, library):
    from review.domain.content.engine import ContentFilter

    return ContentFilter.from_policy(policy, library, "test", "default-test", scanners=["keyword", "regex"])


@pytest.fixture(scope="session")
def cfilter_ac(policy, library):
    from review.domain.content.engine import ContentFilter

    return ContentFilter.from_policy(policy, library, "test", "default-test", engine="ahocorasick", scanners=["keyword", "regex"])


# A deterministic benign set: ordinary English and Chinese sentences, including words
# that contain library terms as substrings (skill, scampi, heroine, grenadine, ...).


EN_SUBJ = ["The teacher", "My sister", "Our team", "The new intern", "A local chef", "The museum guide", "Grandpa", "The class"]
EN_VERB = ["explained", "reviewed", "improved", "shared", "planned", "described", "celebrated", "repaired"]
EN_OBJ = ["the skillful drawing", "a recipe for scampi with grenadine", "the story of a brave heroine", "the quarterly budget",
          "the classroom schedule", "a killer app for note taking", "the assassin's creed soundtrack", "our bicycle route",
          "the skills matrix", "a class on passwords and assessments", "the 2024 harvest of 5 apples", "the essay on Massachusetts history",
          "the photo shoot at sunset", "the cocktail menu", "the kill switch in the README", "the therapist's notes on wellbeing"]
ZH = ["今天天气很好，我们去公园散步。", "老师讲解了光合作用的原理。", "请帮我写一份旅行计划。", "这家餐厅的红烧肉很好吃。",
      "项目进展顺利，下周开会讨论。", "孩子们在学校学习书法。", "我正在学习英语和数学。", "周末我们一起去爬山吧。",
      "这本书讲述了一个感人的故事。", "请注意交通安全，按时回家。", "公司安装了杀毒软件。", "社区组织了防止诈骗的讲座。",
      "银行开展了反洗钱培训。", "博物馆展出了古代瓷器。", "他在厨房里做饭。", "电影院今晚放映新片。"]


def benign_sentences() -> list[str]:
    en = [f"{s} {v} {o}." for s, v, o in itertools.product(EN_SUBJ, EN_VERB, EN_OBJ)][::3]
    zh = [a + b for a, b in itertools.product(ZH, ZH) if a != b][::2]
    return en + zh


@pytest.fixture(scope="session")
def benign():
    return benign_sentences()
