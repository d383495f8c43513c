"""The XML namespaces of DMN files that flowdesk reads: every one Camunda 7 reads.

Camunda 7's DMN model API (`Dmn`, `DmnModelConstants`) registers each of these as an alias of
DMN 1.3 and reads the elements flowdesk uses (decisions, tables, literal expressions,
requirements) the same way in all of them; flowdesk does the same. The schemas of the two DMN
1.1 forms differ only in their target namespace: `dmn11.xsd` is what Camunda 7.4 and the
Camunda Modeler of that time wrote, `dmn.xsd` the form the OMG published.
"""

from __future__ import annotations

DMN_NAMESPACES = (
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",  # DMN 1.1
    "http://www.omg.org/spec/DMN/20151101/dmn11.xsd",  # DMN 1.1, Camunda 7.4 / early Modeler
    "http://www.omg.org/spec/DMN/20180521/MODEL/",  # DMN 1.2
    "https://www.omg.org/spec/DMN/20191111/MODEL/",  # DMN 1.3
    "https://www.omg.org/spec/DMN/20191111/DMN13.xsd",  # DMN 1.3, Camunda 7.13's first form
    "https://www.omg.org/spec/DMN/20211108/MODEL/",  # DMN 1.4
    "https://www.omg.org/spec/DMN/20230324/MODEL/",  # DMN 1.5
)
"""Namespaces of DMN `definitions` that flowdesk deploys, oldest first."""

CAMUNDA_DMN_NS = "http://camunda.org/schema/1.0/dmn"
"""Camunda's DMN extension namespace (`camunda:inputVariable`, `camunda:versionTag`, ...)."""

FEEL_LANGUAGES = frozenset(
    {
        "feel",
        "http://www.omg.org/spec/FEEL/20140401",
        "http://www.omg.org/spec/DMN/20180521/FEEL/",
        "https://www.omg.org/spec/DMN/20191111/FEEL/",
        "https://www.omg.org/spec/DMN/20211108/FEEL/",
        "https://www.omg.org/spec/DMN/20230324/FEEL/",
    }
)
"""`expressionLanguage` values that mean FEEL, as Camunda 7's
`ExpressionEvaluationHandler.isFeelExpressionLanguage` reads them (see `is_feel`)."""


def is_feel(language: str) -> bool:
    """Whether an `expressionLanguage` value means FEEL: a FEEL namespace, or "feel" in any case.

    Args:
        language: The attribute's value, stripped.

    Returns:
        True for FEEL.
    """
    return language in FEEL_LANGUAGES or language.lower() == "feel"
