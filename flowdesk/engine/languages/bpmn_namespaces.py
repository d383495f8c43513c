"""The XML namespaces of BPMN 2.0 and of Camunda 7's extensions, for reading model files.

`BPMN_NS` and `CAMUNDA_NS` are the namespace URIs (for `nsmap` lookups and XPath);
`BPMN` and `CAMUNDA` are the same in lxml's Clark notation, ready to prefix a local name
(`f"{BPMN}sequenceFlow"`).
"""

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
BPMN = "{" + BPMN_NS + "}"
CAMUNDA = "{" + CAMUNDA_NS + "}"
