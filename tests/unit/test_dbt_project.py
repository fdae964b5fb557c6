"""The dbt project's files and what Python hands it (no Spark): vars, catalog rows, layout."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import yaml

from reconnect.analytics.catalog import catalog_rows
from reconnect.analytics.dbt import PROJECT_DIR, artifacts_dir, dbt_vars, vocabulary_vars
from reconnect.campaigns import load_campaigns, parse_campaign
from reconnect.settings import DEFAULT_CONF_DIR, Settings

LAYERS = ("staging", "intermediate", "marts")


def project() -> dict:
    return yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())


def test_the_project_ships_in_the_package_and_models_at_the_root_links_to_it():
    assert (PROJECT_DIR / "dbt_project.yml").is_file()
    root_models = Path(__file__).resolve().parents[2] / "models"
    assert root_models.resolve() == PROJECT_DIR.resolve()
    assert project()["model-paths"] == list(LAYERS)


def test_the_vocabulary_defaults_of_dbt_project_yml_are_the_vocabulary():
    defaults = project()["vars"]
    for name, values in vocabulary_vars().items():
        assert defaults[name] == values, name
    assert defaults["default_attribution_window_seconds"] == 7 * 86400


def test_the_vars_carry_the_catalog_names_and_the_models_folder():
    settings = Settings().with_paths("/data/x")
    settings = settings.model_copy(
        update={"catalog": settings.catalog.model_copy(update={"catalog": "main", "gold": "g"})}
    )
    got = dbt_vars(settings)
    assert got["gold_schema"] == "main.g" and got["bronze_schema"] == "main.bronze"
    assert got["analytics_schema"] == "main.analytics"
    assert got["analytics_location"] == "/data/x/lakehouse/analytics"
    assert artifacts_dir(settings) == Path("/data/x/lakehouse/_dbt")
    on_s3 = settings.model_copy(
        update={"paths": settings.paths.model_copy(update={"lakehouse": "s3a://b/lake"})}
    )
    assert artifacts_dir(on_s3) == Path("var/dbt").resolve()


def test_the_local_target_is_the_running_session():
    profile = yaml.safe_load((PROJECT_DIR / "profiles.yml").read_text())["reconnect"]
    assert profile["target"] == "local"
    assert profile["outputs"]["local"]["method"] == "session"
    assert {o["method"] for o in profile["outputs"].values()} == {"session", "thrift", "http"}


def test_every_model_has_a_yml_of_its_own_with_every_column_described():
    models = sorted(p for layer in LAYERS for p in (PROJECT_DIR / layer).glob("*.sql"))
    assert len(models) == 21  # a model added or removed is a decision: update this count
    for sql in models:
        spec = yaml.safe_load(sql.with_suffix(".yml").read_text())
        (model,) = spec["models"]
        assert model["name"] == sql.stem
        assert model["description"].strip(), sql.stem
        assert model["columns"] and all(c["description"].strip() for c in model["columns"])
        prefix = {"staging": "stg_reconnect__", "intermediate": "int_"}.get(sql.parent.name)
        assert sql.stem.startswith(prefix or ("fct_", "dim_", "rpt_")), sql.stem


def test_every_source_table_has_one_staging_model():
    sources = yaml.safe_load((PROJECT_DIR / "staging" / "_reconnect__sources.yml").read_text())
    tables = {t["name"] for s in sources["sources"] for t in s["tables"]}
    staged = {
        p.stem.removeprefix("stg_reconnect__") for p in (PROJECT_DIR / "staging").glob("*.sql")
    }
    assert staged == tables


CART = {
    "id": "cart",
    "name": "Cart",
    "type": "cart_abandonment",
    "channels": ["email", "sms"],
    "caps": {"sms": {"count": 1, "window": "7d"}},
    "wait": "2h",
    "attribution_window": "3d",
    "variations": [
        {
            "id": "a",
            "weight": 90,
            "steps": [
                {"name": "first", "templates": {"email": {"subject": "s", "body": "b"}}},
                {"name": "second", "wait": "1d"},
                {"name": "third", "wait": "12h"},
            ],
        },
        {"id": "ctl", "weight": 10, "control": True, "steps": [{"name": "first"}]},
    ],
}


def test_catalog_rows_are_one_per_campaign_variation_and_step():
    rows = catalog_rows([parse_campaign(CART)])
    assert rows.campaigns == [
        {
            "campaign_id": "cart",
            "campaign_type": "cart_abandonment",
            "name": "Cart",
            "status": "active",
            "priority": 1,
            "timezone": "UTC",
            "channels": ["email", "sms"],
            "caps": [{"channel": "sms", "count": 1, "window_seconds": 7 * 86400}],
            "primary_metric": "purchases_per_user",
            "attribution_window_seconds": 3 * 86400,
            "wait_seconds": 7200,
            "watch_window_seconds": None,
            "cancel_all_others": False,
            "variations": 2,
        }
    ]
    assert rows.variations == [
        {
            "campaign_id": "cart",
            "variation_id": "a",
            "variation_number": 1,
            "is_control": False,
            "weight": Decimal(90),
            "bucket_start": 0,
            "bucket_end": 9000,
            "steps": 3,
        },
        {
            "campaign_id": "cart",
            "variation_id": "ctl",
            "variation_number": 2,
            "is_control": True,
            "weight": Decimal(10),
            "bucket_start": 9000,
            "bucket_end": 10000,
            "steps": 1,
        },
    ]
    steps = [
        (
            s["variation_id"],
            s["step_number"],
            s["step_name"],
            s["channels"],
            s["wait_seconds"],
            s["offset_seconds"],
        )
        for s in rows.steps
    ]
    assert steps == [
        ("a", 1, "first", ["email"], None, 0),  # only an e-mail template
        ("a", 2, "second", ["email", "sms"], 86400, 86400),  # the type's default copy
        ("a", 3, "third", ["email", "sms"], 43200, 129600),
        ("ctl", 1, "first", ["email", "sms"], None, 0),
    ]


def test_catalog_rows_of_the_packaged_campaigns_fit_their_tables():
    from reconnect.lake.tables import CATALOG_TABLES

    rows = catalog_rows(load_campaigns(DEFAULT_CONF_DIR / "campaigns"))
    for table, data in zip(
        CATALOG_TABLES, (rows.campaigns, rows.variations, rows.steps), strict=True
    ):
        names = table.schema.fieldNames()
        assert data and all(list(r) == names for r in data), table.name
        required = [f.name for f in table.schema.fields if not f.nullable]
        assert all(r[n] is not None for r in data for n in required), table.name
