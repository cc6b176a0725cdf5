"""Every validator of copier.yml rejects bad answers with its own message and accepts good ones.

The answers go through Copier's real path: `run_copy(data=...)` parses and validates each
answer like `copier copy --data` does and raises ValueError with the validator's sentence before
anything is rendered (about 0.1 s per call from a plain-folder copy of the template).
"""

from __future__ import annotations

import re
import string
import sys
import unicodedata
from pathlib import Path

import copier
import pytest
from conftest import (
    LATIN_LETTERS,
    TEMPLATE_ROOT,
    VALIDATOR_RULES,
    broken_rule,
    derived_slug,
    render_from,
)
from copier._main import Worker
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(TEMPLATE_ROOT / "hooks"))
import validate_render

pytestmark = pytest.mark.fast

PACKAGE_SYNTAX = "package_name must be a valid Python package name: lowercase letters, digits and"
SLUG_RULE = "project_slug must be lowercase letters, digits and single hyphens, starting with a"
EMAIL_RULE = "author_email must be an email address such as jane.doe@example.com"
REGION_RULE = "aws_region must be an AWS region name such as eu-west-1 or us-gov-west-1"
PREFIX_SLASHES = "s3_prefix must be a key prefix without leading, trailing or doubled slashes"
ARN_RULE = "sagemaker_role_arn must be empty (fill it in later) or an IAM role ARN such as"
TRAINING_TYPE = "training_instance_type must be a SageMaker instance type: 'ml.' then a family"
PROCESSING_TYPE = "processing_instance_type must be a SageMaker instance type: 'ml.' then a family"
RESERVED = "s3_bucket must not use a prefix or suffix reserved by AWS"
DELIMITERS = "must not contain the template delimiters {{ }} {% %} {# #}"

# (question, bad answer, exact substring of the message Copier shows)
BAD_ANSWERS = [
    ("project_name", "   ", "project_name must not be empty"),
    ("project_name", "x" * 101, "project_name must be at most 100 characters"),
    ("project_name", "Churn\nPrediction", "project_name must be a single line"),
    ("project_name", "Churn\u2028Prediction", "project_name must be a single line"),
    ("project_name", "Churn\tPrediction", "project_name must contain only printable characters"),
    ("project_name", "Churn {{ cookiecutter }}", "project_name " + DELIMITERS),
    ("project_slug", "Churn_Prediction", SLUG_RULE),
    ("project_slug", "churn--prediction", SLUG_RULE),
    ("project_slug", "1churn", SLUG_RULE),
    ("project_slug", "churn-", SLUG_RULE),
    ("project_slug", "a" * 65, "project_slug must be at most 64 characters"),
    ("project_slug", "", "project_slug must not be empty"),
    ("package_name", "json", "package_name must not be the name of a standard library module"),
    ("package_name", "test", "package_name must not be the name of a standard library module"),
    ("package_name", "class", "package_name must not be a Python keyword (got 'class')"),
    ("package_name", "1abc", PACKAGE_SYNTAX),
    ("package_name", "My-Pkg", PACKAGE_SYNTAX),
    ("package_name", "churn prediction", PACKAGE_SYNTAX),
    ("package_name", "pandas", "package_name must not be the name of a library the project"),
    ("package_name", "", "package_name must not be empty"),
    ("package_name", "a" * 65, "package_name must be at most 64 characters"),
    ("description", "line one\nline two", "description must be a single line"),
    ("description", "x" * 301, "description must be at most 300 characters"),
    ("description", "bell\x07", "description must contain only printable characters"),
    ("description", "{% include 'secrets' %}", "description " + DELIMITERS),
    ("author_name", "", "author_name must not be empty"),
    ("author_name", "Jane\nDoe", "author_name must be a single line"),
    ("author_name", "J" * 101, "author_name must be at most 100 characters"),
    ("author_name", "Jane\u200bDoe", "author_name must contain only printable characters"),
    ("author_name", "{# team #}", "author_name " + DELIMITERS),
    ("author_email", "no-at-sign", EMAIL_RULE),
    ("author_email", "jane@localhost", EMAIL_RULE),
    ("author_email", "jane doe@example.com", EMAIL_RULE),
    ("author_email", "jane@@example.com", EMAIL_RULE),
    ("author_email", "jane@example..com", EMAIL_RULE),
    ("aws_region", "europe-west-1", REGION_RULE),
    ("aws_region", "eu-west", REGION_RULE),
    ("aws_region", "EU-WEST-1", REGION_RULE),
    ("aws_region", "eu-west-1a", REGION_RULE),
    ("aws_region", "eu-west-\u0661", REGION_RULE),  # an Arabic-Indic digit one
    ("s3_bucket", "My_Bucket", "s3_bucket may contain only lowercase letters, digits, dots and"),
    ("s3_bucket", "ab", "s3_bucket must be 3 to 63 characters long (got 2)"),
    ("s3_bucket", "a" * 64, "s3_bucket must be 3 to 63 characters long (got 64)"),
    ("s3_bucket", "a..b", "s3_bucket must not contain two adjacent periods"),
    ("s3_bucket", "my.-bucket", "s3_bucket must not contain two adjacent periods or a period next"),
    ("s3_bucket", "192.168.1.1", "s3_bucket must not be formatted as an IP address"),
    ("s3_bucket", "-bucket", "s3_bucket must begin and end with a lowercase letter or digit"),
    ("s3_bucket", "xn--abc", RESERVED),
    ("s3_bucket", "data-s3alias", RESERVED),
    ("s3_prefix", "/lead", PREFIX_SLASHES),
    ("s3_prefix", "a//b", PREFIX_SLASHES),
    ("s3_prefix", "trailing/", PREFIX_SLASHES),
    ("s3_prefix", "with space", "s3_prefix may contain only letters, digits and the S3-safe"),
    ("s3_prefix", "", "s3_prefix must not be empty"),
    ("s3_prefix", "p" * 201, "s3_prefix must be at most 200 characters"),
    ("sagemaker_role_arn", "arn:aws:iam::12345678901:role/SageMaker", ARN_RULE),
    ("sagemaker_role_arn", "arn:aws:s3::123456789012:role/SageMaker", ARN_RULE),
    ("sagemaker_role_arn", "arn:aws:iam::123456789012:user/jane", ARN_RULE),
    ("sagemaker_role_arn", "arn:aws:iam::123456789012:role/", ARN_RULE),
    ("sagemaker_role_arn", "SageMakerExecutionRole", ARN_RULE),
    ("sagemaker_role_arn", "arn:aws:iam::" + "\u0661" * 12 + ":role/R", ARN_RULE),
    ("training_instance_type", "m5.xlarge", TRAINING_TYPE),
    ("training_instance_type", "ml.m5", TRAINING_TYPE),
    ("training_instance_type", "ML.M5.XLARGE", TRAINING_TYPE),
    ("processing_instance_type", "m5.large", PROCESSING_TYPE),
    ("processing_instance_type", "ml..large", PROCESSING_TYPE),
]

# Answers Copier rejects itself because they are not among the question's choices.
BAD_CHOICES = [
    ("python_version", "3.10"),
    ("license", "GPL-3.0"),
    ("ci_provider", "gitlab"),
]

# Unusual but valid answers: every one must pass its validator.
GOOD_ANSWER_SETS = [
    {
        "project_name": 'Ünïcödé "Churn" 🚀: #1 \\ yes',
        "project_slug": "churn2",
        "package_name": "churn2_model",
        "description": "null",
        "author_name": "O'Brien & Søn",
        "author_email": "first.last+ml@sub.example.co.uk",
        "aws_region": "us-gov-west-1",
        "s3_bucket": "my.bucket.01",
        "s3_prefix": "teams/churn_v2/(prod)!",
        "sagemaker_role_arn": "arn:aws-cn:iam::123456789012:role/service-role/My+Role=1,2.@_-",
        "training_instance_type": "ml.g4dn.12xlarge",
        "processing_instance_type": "ml.t3.medium",
    },
    {
        "project_name": "a",
        "project_slug": "a-b-c",
        "package_name": "abcd",
        "description": "",
        "aws_region": "ap-southeast-2",
        "s3_bucket": "abc",
        "s3_prefix": "x",
        "sagemaker_role_arn": "arn:aws:iam::000000000000:role/R",
        "training_instance_type": "ml.p4d.24xlarge",
    },
    {
        "project_name": "x" * 100,
        "project_slug": "a" * 64,
        "package_name": "a" * 64,
        "description": "d" * 300,
        "s3_bucket": "b" * 63,
        "s3_prefix": "p" * 200,
    },
]


def _copy_error(template: Path, destination: Path, answers: dict) -> str:
    """Return the message Copier raises for `answers`, or fail if it accepts them."""
    with pytest.raises(ValueError) as error:
        copier.run_copy(
            str(template),
            destination,
            data=answers,
            defaults=True,
            quiet=True,
            skip_tasks=True,
            pretend=True,
        )
    return str(error.value)


@pytest.mark.parametrize(
    ("question", "answer", "message"),
    BAD_ANSWERS,
    ids=[f"{q}={a[:20]!r}" for q, a, _ in BAD_ANSWERS],
)
def test_validator_rejects_bad_answer(
    plain_template: Path, tmp_path: Path, question: str, answer: str, message: str
) -> None:
    text = _copy_error(plain_template, tmp_path / "project", {question: answer})
    assert f"Validation error for question '{question}': " in text
    assert message in text
    # The tests' reading of includes/validators.yml gives Copier's very sentence.
    expected = broken_rule(question, answer)
    assert expected is not None and message in expected
    assert f"Validation error for question '{question}': {expected}" in text


def test_every_rule_has_a_bad_answer() -> None:
    """Each rule of includes/validators.yml is the first one broken by some bad answer."""
    untested = [
        f"{question}: {rule['message']}"
        for question, rules in VALIDATOR_RULES.items()
        for index, rule in enumerate(rules)
        if not any(
            q == question and _first_broken(rules, answer) == index for q, answer, _ in BAD_ANSWERS
        )
    ]
    assert untested == []


def _first_broken(rules: list[dict[str, str]], answer: str) -> int | None:
    """Return the index of the first rule `answer` breaks, or None."""
    return next((i for i, r in enumerate(rules) if re.search(r["pattern"], answer) is None), None)


def test_enough_bad_answers_per_validator() -> None:
    """Issue 2: every validator rejects at least two bad values; issue 9: at least 20 in all."""
    counts: dict[str, int] = {}
    for question, _, _ in BAD_ANSWERS:
        counts[question] = counts.get(question, 0) + 1
    assert len({(q, a) for q, a, _ in BAD_ANSWERS}) >= 20
    validated = [name for name, rule in _questions().items() if "validator" in rule]
    assert {name: counts.get(name, 0) for name in validated if counts.get(name, 0) < 2} == {}
    print(f"bad answers tried: {len(BAD_ANSWERS) + len(BAD_CHOICES)}")


@pytest.mark.parametrize(("question", "answer"), BAD_CHOICES)
def test_choice_questions_reject_other_values(
    plain_template: Path, tmp_path: Path, question: str, answer: str
) -> None:
    text = _copy_error(plain_template, tmp_path / "project", {question: answer})
    assert f"Invalid choice for '{question}': '{answer}' is not in" in text


@pytest.mark.parametrize("answers", GOOD_ANSWER_SETS, ids=["unusual", "short", "longest"])
def test_validators_accept_good_answers(
    plain_template: Path, tmp_path: Path, answers: dict
) -> None:
    project = render_from(plain_template, tmp_path / "project", **answers)
    assert validate_render.validate(project) == []


@pytest.mark.parametrize(
    ("project_name", "question", "message"),
    [
        ("1984", "project_slug", SLUG_RULE),
        ("JSON", "package_name", "package_name must not be the name of a standard library"),
        ("日本語", "project_slug", "project_slug must not be empty"),
        ("Test", "package_name", "package_name must not be the name of a standard library"),
    ],
)
def test_derived_defaults_are_validated(
    plain_template: Path, tmp_path: Path, project_name: str, question: str, message: str
) -> None:
    """A valid project_name whose derived slug or package is not valid stops with that rule.

    Copier (9.19) validates the default of every asked question under --defaults too.
    """
    text = _copy_error(plain_template, tmp_path / "project", {"project_name": project_name})
    assert f"Validation error for question '{question}': {message}" in text


def _questions() -> dict:
    import yaml

    config = yaml.safe_load((TEMPLATE_ROOT / "copier.yml").read_text(encoding="utf-8"))
    return {k: v for k, v in config.items() if not k.startswith("_") and isinstance(v, dict)}


# ----- Names derived from project_name (issue 15 item 7) ----------------------------------------

LONG_NAME = "Customer Lifetime Value Forecasting for the European Subscription Business Unit"


def derived_names(template: Path, project_name: str) -> dict[str, str]:
    """Return the names Copier derives from `project_name` under --defaults.

    Only the questions are asked and validated (what `copier copy` does before it renders), about
    0.2 s a name; a derived name that breaks its rule raises ValueError as `copier copy` does.
    """
    with Worker(
        src_path=str(template),
        dst_path=template.parent / "never-written",
        data={"project_name": project_name},
        defaults=True,
        quiet=True,
        pretend=True,
        skip_tasks=True,
    ) as worker:
        worker._ask()
        answers = worker.answers.combined
        return {q: answers[q] for q in ("project_slug", "package_name", "s3_bucket", "s3_prefix")}


@pytest.mark.parametrize(
    ("project_name", "slug"),
    [
        ("Prédiction du désabonnement", "prediction-du-desabonnement"),
        ("Ærø Straße Łódź", "aero-strasse-lodz"),
        ("İstanbul ﬁnance: Ödeme", "istanbul-finance-odeme"),
        (LONG_NAME, "customer-lifetime-value-forecasting-for-the-european"),
        ("a" * 70, "a" * 64),
    ],
)
def test_derived_names_spell_accents_and_fit(
    plain_template: Path, project_name: str, slug: str
) -> None:
    names = derived_names(plain_template, project_name)
    assert names["project_slug"] == slug == derived_slug(project_name)
    assert names["package_name"] == slug.replace("-", "_")
    assert {
        question: broken_rule(question, value) for question, value in names.items()
    } == dict.fromkeys(names)


def test_a_79_character_name_renders_under_defaults(plain_template: Path, tmp_path: Path) -> None:
    assert len(LONG_NAME) == 79
    project = render_from(plain_template, tmp_path / "project", project_name=LONG_NAME)
    assert validate_render.validate(project) == []
    assert (project / "src/customer_lifetime_value_forecasting_for_the_european").is_dir()


# Names that start with a Latin letter (so the slug starts with one), then anything people type.
LATIN_FIRST = sorted(
    set(string.ascii_letters)
    | set(LATIN_LETTERS)
    | {c.upper() for c in LATIN_LETTERS if len(c.upper()) == 1}
)
NAME_CHARACTERS = [*LATIN_FIRST, *string.digits, *" -_.,:;'&!()/", "日", "本", "Ω", "ж", "\u0301"]
WORD = st.text(st.sampled_from([*LATIN_FIRST, *string.digits]), min_size=1, max_size=12)
NAMES = st.builds(
    lambda first, rest: (first + rest)[:100],
    st.sampled_from(LATIN_FIRST),
    st.one_of(
        st.text(st.sampled_from(NAME_CHARACTERS), max_size=99),
        # words, often more than 64 characters of them: the slug is cut at a word
        st.lists(WORD, max_size=14).map(lambda words: " " + " ".join(words)),
    ),
)


def test_derived_names_always_pass_the_validators(plain_template: Path) -> None:
    """For any name that starts with a Latin letter, the derived names pass their rules (or the
    package name is one Python already uses), fit in 64 characters, end at a whole word and keep
    every letter Unicode decomposes into ASCII (é -> e)."""
    outcomes = {"valid": 0, "cut at a word": 0, "reserved package name": 0}

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(name=NAMES)
    def check(name: str) -> None:
        slug = derived_slug(name)
        uncut = derived_slug(name, max_length=10**6)
        try:
            names = derived_names(plain_template, name)
        except ValueError as error:
            reason = broken_rule("package_name", slug.replace("-", "_"))
            assert reason is not None and "must not be" in reason, str(error)
            assert f"Validation error for question 'package_name': {reason}" in str(error)
            outcomes["reserved package name"] += 1
            return
        assert names["project_slug"] == slug
        assert all(broken_rule(question, value) is None for question, value in names.items())
        assert len(slug) <= 64 and uncut.startswith(slug)
        assert uncut[len(slug) : len(slug) + 1] in ("", "-")  # cut at a word boundary
        outcomes["cut at a word"] += slug != uncut and "-" in slug
        if slug == uncut:
            decomposed = unicodedata.normalize("NFKD", name.lower())
            ascii_letters = iter(slug)
            spelt = [c for c in decomposed if c.isascii() and c.isalnum()]
            assert all(c in ascii_letters for c in spelt), f"{name!r} -> {slug!r}"
        outcomes["valid"] += 1

    check()
    print(f"\nderived names: {outcomes}")
    assert outcomes["valid"] > 0
