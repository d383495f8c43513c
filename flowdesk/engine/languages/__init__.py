"""The languages models are written in, and the limits every script and expression runs under.

`expressions` translates JUEL to Python; `sandbox` runs Python (and translated JUEL) in
RestrictedPython with `juel_functions`; `javascript` runs JavaScript in QuickJS (with
`javascript_runtime.js`); `timer_texts` reads Camunda's timer texts and holds the engine clock;
`limits` enforces CPU time and memory; `bpmn_namespaces` names the XML namespaces of BPMN and
of Camunda's extensions, which every layer above reads models in.

May import: `flowdesk`'s errors, and SpiffWorkflow's script environment and timer module (which
`sandbox` and `timer_texts` adapt). The lowest layer of the engine.
"""
