"""Every validator of copier.yml rejects bad answers with its own message and accepts good ones.

The answers go through Copier's real path: `run_copy(data=...)` parses and validates each
answer like `copier copy --data` does and raises ValueError with the validator's sentence before
anything is rendered (about 0.1 s per call from a plain-folder copy of the template).
"""

from __future__ import annotations

import sys
from pathlib import Path

import copier
import pytest
from conftest import TEMPLATE_ROOT, render_from

sys.path.insert(0, str(TEMPLATE_ROOT / "hooks"))
import validate_render

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
    ("author_email", "no-at-sign", EMAIL_RULE),
    ("author_email", "jane@localhost", EMAIL_RULE),
    ("author_email", "jane doe@example.com", EMAIL_RULE),
    ("author_email", "jane@@example.com", EMAIL_RULE),
    ("author_email", "jane@example..com", EMAIL_RULE),
    ("aws_region", "europe-west-1", REGION_RULE),
    ("aws_region", "eu-west", REGION_RULE),
    ("aws_region", "EU-WEST-1", REGION_RULE),
    ("aws_region", "eu-west-1a", REGION_RULE),
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
    ("sagemaker_role_arn", "arn:aws:iam::12345678901:role/SageMaker", ARN_RULE),
    ("sagemaker_role_arn", "arn:aws:s3::123456789012:role/SageMaker", ARN_RULE),
    ("sagemaker_role_arn", "arn:aws:iam::123456789012:user/jane", ARN_RULE),
    ("sagemaker_role_arn", "arn:aws:iam::123456789012:role/", ARN_RULE),
    ("sagemaker_role_arn", "SageMakerExecutionRole", ARN_RULE),
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
