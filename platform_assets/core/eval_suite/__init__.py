"""The eval suite: product requirements, the reviewed cases that test them, and the runs
that decide releases.

- :mod:`.requirements`: requirement documents parsed into ids, texts and hashes;
- :mod:`.cases`: the case schema (pydantic), loading and writing case files;
- :mod:`.suite`: the suite and its review: coverage, duplicates, rot;
- :mod:`.execution`: running a case against a model on a holdout, or through the contract check;
- :mod:`.promotion`: champion and challenger through the suite, the promotion gate's input;
- :mod:`.regressions`: what went wrong before (quarantines, blocked promotions, triage tickets,
  failed cases);
- :mod:`.rules_drafting` and :mod:`.drafting`: drafts from the rules, or from Claude through the
  Message Batches API;
- :mod:`.review`: a person approves or rejects a draft.

Nothing here imports Dagster; heavy libraries are imported where a case runs.
"""
