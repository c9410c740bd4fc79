"""Operations: run-failure triage into tickets, with allow-listed runbooks."""
