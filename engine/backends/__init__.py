"""Evaluation backends: how the conditions of a checked case become statuses.

`durable` drives durable_rules' Rete network (production); `reference` evaluates the expression
trees in plain Python (the oracle of the differential tests). Both read the pre-check
(engine.precheck) and the backend-neutral program (engine.program); engine.evaluate is the
interface the rest of the engine uses.
"""
