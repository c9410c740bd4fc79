"""Every asset key, check name, group and job name of the code location, spelled once.

Other modules import these names; none spells a key itself. A selection of several assets
is built from their group (``dg.AssetSelection.groups(TRAINING, EVALUATION)``), not from a
list of names that must be kept in step with the assets.
"""

import warnings

import dagster as dg

# --- groups: one per lifecycle stage (the same names as core/<stage> and the tests) -----
INGESTION = "ingestion"
VALIDATION = "validation"
FEATURES = "features"
TRAINING = "training"
EVALUATION = "evaluation"
MONITORING = "monitoring"
OPERATIONS = "operations"
# Not a lifecycle stage: the eval suite's growth, from requirements to reviewed cases to results.
EVAL_SUITE = "eval_suite"


def raw_key(table: str) -> dg.AssetKey:
    """The key of a raw table landed by dlt: ``raw/<table>``."""
    return dg.AssetKey(["raw", table])


# --- assets --------------------------------------------------------------------------
RAW_TRANSACTIONS = raw_key("transactions")
RAW_TRANSACTIONS_OP = (
    "raw_transactions"  # the dlt op behind raw/*: run config goes under ops.raw_transactions
)
VALIDATED_TRANSACTIONS = dg.AssetKey(["validated", "transactions"])
FEATURES_TRANSACTIONS = dg.AssetKey(["features", "transactions"])
FRAUD_MODEL = dg.AssetKey(["model", "fraud_model"])
FRAUD_MODEL_ONNX = dg.AssetKey(["model", "fraud_model_onnx"])
EVAL_RESULTS = dg.AssetKey(["model", "eval_results"])
CHAMPION_CHALLENGER_GATE = dg.AssetKey(["model", "champion_challenger_gate"])
SHADOW_SCORES = dg.AssetKey(["model", "shadow_scores"])
MODEL_CARD = dg.AssetKey(["model", "model_card"])
FEATURE_DRIFT = dg.AssetKey(["monitoring", "feature_drift"])
LLM_OBSERVABILITY = dg.AssetKey("llm_observability")
RELEASE_NOTES = dg.AssetKey(["model", "release_notes"])
EVAL_REQUIREMENTS = dg.AssetKey(["evals", "requirements"])
EVAL_DRAFTS = dg.AssetKey(["evals", "drafts"])
EVAL_SUITE_CASES = dg.AssetKey(["evals", "suite"])
EVAL_SUITE_RESULTS = dg.AssetKey(["evals", "results"])

# --- asset checks --------------------------------------------------------------------
CONTRACT_CHECK = "contract_fct_transactions"
ONNX_PARITY_CHECK = "onnx_parity"
PROMOTION_GATE_CHECK = "promotion_gate"
LLM_REGRESSION_CHECK = "llm_observability_regressions"
EVAL_COVERAGE_CHECK = "eval_suite_coverage"
EVAL_DUPLICATES_CHECK = "eval_suite_duplicates"
EVAL_ROT_CHECK = "eval_suite_rot"
EVAL_CASES_PASS_CHECK = "eval_cases_pass"

# --- jobs ----------------------------------------------------------------------------
MAIN_JOB = "platform_main"
INGEST_AND_VALIDATE_JOB = "ingest_and_validate"
RETRAIN_JOB = "retrain_fraud_model"
EVAL_ROT_REVIEW_JOB = "eval_suite_rot_review"
MAINTENANCE_JOB = "warehouse_maintenance"

# --- schedules -----------------------------------------------------------------------
EVAL_ROT_REVIEW_SCHEDULE = "eval_suite_quarterly_rot_review"
MAINTENANCE_SCHEDULE = "nightly_warehouse_maintenance"

# --- sensors -------------------------------------------------------------------------
AUTOMATION_SENSOR = "platform_automation"
DRIFT_SENSOR = "drift_retraining_sensor"
TRIAGE_SENSOR = "triage_run_failures"
TRAINING_ANOMALY_SENSOR = "triage_training_anomalies"
PAGES_SENSOR = "respond_to_pages"
RUN_COST_SENSOR = "record_run_costs"

# --- owners: who is paged for what, by stage ------------------------------------------
# Dagster's `owners` on assets, jobs and sensors come from here. Asset checks have no
# `owners` in Dagster 1.13: a check carries its asset's owners in its metadata
# (`owner_metadata`), and so does a sensor whose decorator takes no `owners`
# (run-status sensors, the automation sensor) in its tags (`owner_tags`).
TEAM_DATA_ENG = "team:data-eng"
TEAM_ML_PLATFORM = "team:ml-platform"

OWNERS_BY_GROUP: dict[str, list[str]] = {
    INGESTION: [TEAM_DATA_ENG],
    VALIDATION: [TEAM_DATA_ENG],
    FEATURES: [TEAM_DATA_ENG],
    TRAINING: [TEAM_ML_PLATFORM],
    EVALUATION: [TEAM_ML_PLATFORM],
    MONITORING: [TEAM_ML_PLATFORM],
    OPERATIONS: [TEAM_ML_PLATFORM],
    EVAL_SUITE: [TEAM_ML_PLATFORM],
}
# The lifecycle in order: a failure touching several stages pages the earliest one's owner.
STAGE_ORDER = (
    INGESTION,
    VALIDATION,
    FEATURES,
    TRAINING,
    EVALUATION,
    MONITORING,
    OPERATIONS,
    EVAL_SUITE,
)
OWNER_KEY = "owners"  # the metadata key (checks) and tag key (sensors without `owners`)

# `owners` on jobs and sensors is a beta parameter in Dagster 1.13. We use it knowingly, so
# its warning (printed by every process that loads the code location) is silenced, and only it.
warnings.filterwarnings("ignore", message=r"Parameter `owners` of ", category=dg.BetaWarning)


def owners(group: str) -> list[str]:
    """The owners of a stage (``team:...``), the first one is paged."""
    return list(OWNERS_BY_GROUP[group])


def owner_metadata(group: str) -> dict[str, str]:
    """Owners as definition metadata, for asset checks (Dagster 1.13 has no check owners)."""
    return {OWNER_KEY: ", ".join(owners(group))}


def owner_tags(group: str) -> dict[str, str]:
    """Owners as definition tags, for sensors whose decorator takes no ``owners``."""
    return {OWNER_KEY: ", ".join(owners(group))}
