"""Onboarding a plant: read what a live source offers and draft or check a plant model.

`opcua` browses a server, `mqtt` listens to a broker (UNS JSON and Sparkplug B births),
`draft` turns either into plant model YAML with every guess marked, and `check` matches a
model's rules against live addresses as silver would (`plantlake model discover|check`).
"""
