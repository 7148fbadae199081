"""Contracts more than one package reads: the state and reason vocabulary, the priority of the
reading sources, and the MES/ERP source tables silver parses. Each is declared here once."""
