"""Governance: the people who act, the approvals they give, and the audit log of every action.

Pure domain, no I/O: users with roles in organisational units, approval rules with a quorum and
the check that a set of approvals satisfies one, and the hash-chained audit log with its
verifier. Storage maps these dataclasses to rows; services decide who may do what.
"""
