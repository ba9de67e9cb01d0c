"""RLDS training source (kind ``"rlds"``) and weighted mixtures (kind ``"mixture"``).

Placeholder: filled below.
"""
