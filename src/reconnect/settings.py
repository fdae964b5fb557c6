"""Typed settings, one object per environment, built once at the entry point and passed down.

A settings file is YAML. ``--env NAME`` reads ``./conf/NAME.yaml`` when the current folder has
one, else the packaged ``reconnect/conf/NAME.yaml`` (``local`` and ``cluster`` ship with the
wheel, as do the default campaigns). Unknown keys and bad values are refused before any job
runs, with the file and the field named (see :class:`SettingsError`).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from reconnect.vocabulary import CHANNELS, DEFAULT_PRIORITY_ORDER

# The packaged defaults (package data: a wheel installs them as files beside the code).
DEFAULT_CONF_DIR = Path(str(resources.files("reconnect") / "conf"))
LOCAL_CONF_DIR = Path("conf")  # a project's own settings files, relative to where it runs
ENV_VAR = "RECONNECT_ENV"
CONF_VAR = "RECONNECT_CONF"


class SettingsError(ValueError):
    """A settings file that cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SparkSettings(_Strict):
    """How the SparkSession is built (see :func:`reconnect.runtime.build_spark_session`)."""

    master: str | None = Field(
        default="local[2]",
        description="Spark master; null on a cluster, where spark-submit or the platform sets it.",
    )
    app_name: str = "reconnect"
    delta_jars: Literal["maven", "provided"] = Field(
        default="maven",
        description="maven: resolve Delta's jars from Maven Central once and cache them (local); "
        "provided: the cluster already has them (Databricks, spark-submit --packages).",
    )
    driver_memory: str | None = "4g"
    shuffle_partitions: int = Field(default=4, ge=1)
    ui_enabled: bool = False
    conf: dict[str, str] = Field(default_factory=dict, description="Extra Spark settings.")


class PathSettings(_Strict):
    """Where data lives: local folders by default, any Hadoop URI (s3a://...) on a cluster."""

    landing: str = "var/landing"
    lakehouse: str = "var/lakehouse"
    checkpoints: str = "var/checkpoints"
    campaigns: str = Field(
        default=str(DEFAULT_CONF_DIR / "campaigns"),
        description="Folder of campaign YAML files (one per campaign).",
    )

    def resolved(self, base: Path) -> PathSettings:
        """Make relative local paths absolute against ``base``; URIs are left alone."""

        def fix(p: str) -> str:
            if "://" in p or Path(p).is_absolute():
                return p
            return str((base / p).resolve())

        return PathSettings(
            landing=fix(self.landing),
            lakehouse=fix(self.lakehouse),
            checkpoints=fix(self.checkpoints),
            campaigns=fix(self.campaigns),
        )

    def folder_problems(self) -> list[str]:
        """Local data folders that cannot be made because a file stands in their way.

        URIs (``s3a://``, ``dbfs:/``...) are the cluster's to check; ``file:`` paths are local.
        """
        problems = []
        for name in ("landing", "lakehouse", "checkpoints"):
            value = getattr(self, name)
            if "://" in value and not value.startswith("file:"):
                continue
            path = Path(value.removeprefix("file://").removeprefix("file:"))
            for there in (path, *path.parents):
                if there.exists():
                    if not there.is_dir():
                        problems.append(
                            f"paths.{name} = {value}: expected a folder; {there} is a file"
                        )
                    break
        return problems


class CatalogSettings(_Strict):
    """Names under which the Delta tables are registered in the Spark catalog."""

    catalog: str | None = Field(default=None, description="null: the session catalog.")
    bronze: str = "bronze"
    silver: str = "silver"
    gold: str = "gold"
    analytics: str = Field(
        default="analytics",
        description="The dbt project's models (reconnect models build), Delta folders under "
        "<paths.lakehouse>/analytics/.",
    )

    def schema_name(self, layer: str) -> str:
        """The fully qualified schema (database) name of a layer (or of ``analytics``)."""
        name: str = getattr(self, layer)
        return f"{self.catalog}.{name}" if self.catalog else name


class StreamingSettings(_Strict):
    """Trigger and batch sizing of every streaming query."""

    trigger: Literal["available_now", "processing_time"] = Field(
        default="available_now",
        description="available_now: process what is there and stop (batch, backfill, tests); "
        "processing_time: run continuously, one micro-batch every interval.",
    )
    processing_time: str = "1 minute"
    max_files_per_trigger: int | None = Field(default=None, ge=1)

    @field_validator("processing_time")
    @classmethod
    def _interval(cls, v: str) -> str:
        parts = v.split()
        units = {"second", "seconds", "minute", "minutes", "hour", "hours"}
        if len(parts) != 2 or not parts[0].isdigit() or parts[1] not in units:
            raise ValueError("expected '<n> seconds|minutes|hours', e.g. '1 minute'")
        return v


class DetectionSettings(_Strict):
    """Event-time settings of detection (RULES.md defaults; docs/detection.md)."""

    allowed_lateness: str = Field(
        default="10 minutes",
        description="R-EXIT-2: the watermark is the largest event time seen minus this.",
    )
    session_gap: str = Field(
        default="30 minutes", description="R-TRIG-6: a gap this long or longer starts a session."
    )
    product_slots: int = Field(default=3, ge=1, le=20, description="R-REL-2: N product slots.")
    state_ttl: str = Field(
        default="30 days",
        description="A user's detection state (cart, views) is forgotten after this long "
        "without events, once no journey or watch of theirs is open.",
    )

    @field_validator("allowed_lateness", "session_gap", "state_ttl")
    @classmethod
    def _duration(cls, v: str) -> str:
        parse_interval(v)
        return v

    def seconds(self, name: str) -> int:
        """One of the duration settings in seconds."""
        return parse_interval(getattr(self, name))


class QuietHours(_Strict):
    """R-QUIET-1: no sends from ``start`` to ``end`` (local time of the user, HH:MM)."""

    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, v: str) -> str:
        parts = v.split(":")
        if (
            len(parts) != 2
            or not all(p.isdigit() and len(p) == 2 for p in parts)
            or int(parts[0]) > 23
            or int(parts[1]) > 59
        ):
            raise ValueError(f"expected a time of day HH:MM, e.g. '21:00'; got {v!r}")
        return v

    def minutes(self, name: str) -> int:
        """``start`` or ``end`` in minutes after midnight."""
        hh, mm = getattr(self, name).split(":")
        return int(hh) * 60 + int(mm)


class ProviderSettings(_Strict):
    """How one channel's messages leave the system (R-SEND-3; docs/sending.md).

    Secrets are never written here: ``token_env`` names the environment variable that holds the
    webhook's bearer token, and ``url_env`` may name one that holds its URL.
    """

    kind: Literal["file", "webhook", "console"] = "file"
    folder: str = Field(
        default="outbox", description="file: folder for JSON Lines, relative to paths.lakehouse."
    )
    url: str | None = Field(default=None, description="webhook: the endpoint URL.")
    url_env: str | None = Field(default=None, description="webhook: env var holding the URL.")
    token_env: str | None = Field(
        default=None, description="webhook: env var holding a bearer token (never logged)."
    )
    timeout_seconds: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=5, ge=1, le=20)
    backoff_seconds: float = Field(default=0.5, ge=0)
    backoff_max_seconds: float = Field(default=30.0, ge=0)
    circuit_failures: int = Field(
        default=5, ge=1, description="webhook: consecutive failed requests that open the circuit."
    )
    circuit_reset_seconds: float = Field(
        default=30.0, ge=0, description="webhook: how long an open circuit refuses requests."
    )
    batch_size: int | None = Field(
        default=None,
        ge=1,
        description="Messages per provider call, and, for providers that run on the driver, "
        "per commit of their attempts to gold.deliveries (a file provider on a local master "
        "runs in the executors and commits once per batch); default 500 for webhook and "
        "console, 200,000 for file.",
    )

    def chunk(self) -> int:
        """Messages per provider call (``batch_size`` or the kind's default)."""
        return self.batch_size or (200_000 if self.kind == "file" else 500)

    @model_validator(mode="after")
    def _webhook_needs_url(self) -> ProviderSettings:
        if self.kind == "webhook" and not (self.url or self.url_env):
            raise ValueError("webhook: expected url or url_env")
        return self


class SenderSettings(_Strict):
    """Arbitration, caps, consent and delivery of the sender (RULES.md defaults)."""

    global_cap_count: int = Field(default=5, ge=1, description="R-CAP-1: sends per window.")
    global_cap_window: str = Field(default="24 hours", description="R-CAP-1: rolling window.")
    priority_order: tuple[str, ...] = Field(
        default=DEFAULT_PRIORITY_ORDER,
        description="R-PRIO-1: campaign types, highest first; 'custom_cancel_all_others' is a "
        "custom campaign with cancel_all_others.",
    )
    quiet_hours: dict[str, QuietHours] = Field(
        default_factory=dict, description="R-QUIET-1: per channel; none by default."
    )
    providers: dict[str, ProviderSettings] = Field(
        default_factory=lambda: {c: ProviderSettings() for c in CHANNELS},
        description="R-SEND-3: one provider per channel.",
    )

    @field_validator("global_cap_window")
    @classmethod
    def _window(cls, v: str) -> str:
        parse_interval(v)
        return v

    @field_validator("priority_order")
    @classmethod
    def _order(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if sorted(v) != sorted(DEFAULT_PRIORITY_ORDER):
            raise ValueError(
                "expected each of " + ", ".join(DEFAULT_PRIORITY_ORDER) + " exactly once"
            )
        return v

    @field_validator("quiet_hours", "providers")
    @classmethod
    def _channels(cls, v: dict[str, Any]) -> dict[str, Any]:
        unknown = [k for k in v if k not in CHANNELS]
        if unknown:
            raise ValueError(
                f"unknown channel {unknown[0]!r}; expected one of {', '.join(CHANNELS)}"
            )
        return v

    def provider(self, channel: str) -> ProviderSettings:
        """The provider of ``channel`` (the file provider when the channel is not configured)."""
        return self.providers.get(channel, ProviderSettings())


_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def parse_interval(text: str) -> int:
    """``'<n> seconds|minutes|hours|days'`` in seconds; ValueError naming the expected form."""
    parts = text.split()
    unit = parts[1].removesuffix("s") if len(parts) == 2 else ""
    if len(parts) != 2 or not parts[0].isdigit() or unit not in _UNITS:
        raise ValueError(
            f"expected '<n> seconds|minutes|hours|days', e.g. '10 minutes'; got {text!r}"
        )
    return int(parts[0]) * _UNITS[unit]


class AnalyticsSettings(_Strict):
    """The analysts' outputs: the A/B verdicts (R-ATTR-3)."""

    winner_threshold: float = Field(
        default=0.95,
        gt=0.5,
        le=1.0,
        description="R-ATTR-3: the probability to be best at which a variation is the winner.",
    )


class Settings(_Strict):
    """All settings of one environment."""

    env: str = "local"
    spark: SparkSettings = SparkSettings()
    paths: PathSettings = PathSettings()
    catalog: CatalogSettings = CatalogSettings()
    streaming: StreamingSettings = StreamingSettings()
    detection: DetectionSettings = DetectionSettings()
    sender: SenderSettings = SenderSettings()
    analytics: AnalyticsSettings = AnalyticsSettings()

    def with_paths(self, root: Path | str) -> Settings:
        """A copy whose landing, lakehouse and checkpoint folders sit under ``root``."""
        root = Path(root)
        return self.model_copy(
            update={
                "paths": self.paths.model_copy(
                    update={
                        "landing": str(root / "landing"),
                        "lakehouse": str(root / "lakehouse"),
                        "checkpoints": str(root / "checkpoints"),
                    }
                )
            }
        )


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The settings model that holds the key at ``loc`` (None below a mapping or a list)."""
    model: type[BaseModel] = Settings
    for part in loc:
        field = model.model_fields.get(str(part))
        sub = field.annotation if field is not None else None
        if not (isinstance(sub, type) and issubclass(sub, BaseModel)):
            return None
        model = sub
    return model


def _format_error(source: str, err: ValidationError) -> str:
    """Each problem as ``field: what was expected; got <value>`` (unknown keys: what is allowed)."""
    lines = [f"{source}: invalid settings"]
    for e in err.errors():
        loc = tuple(e["loc"])
        field = ".".join(str(p) for p in loc) or "(root)"
        if e["type"] == "extra_forbidden":
            model = _model_at(loc[:-1])
            allowed = f"; expected one of {', '.join(model.model_fields)}" if model else ""
            lines.append(f"  {field}: unknown key{allowed}")
            continue
        what = str(e["msg"]).removeprefix("Value error, ")
        what = (
            "expected " + what.removeprefix("Input should be ")
            if what.startswith("Input should be ")
            else what
        )
        value = e.get("input")
        got = f"; got {value!r}" if isinstance(value, str | int | float | bool) else ""
        lines.append(f"  {field}: {what}{got}")
    return "\n".join(lines)


def env_settings_file(env: str) -> Path:
    """``./conf/<env>.yaml`` when it exists, else the packaged ``<env>.yaml``."""
    own = LOCAL_CONF_DIR / f"{env}.yaml"
    return own if own.is_file() else DEFAULT_CONF_DIR / f"{env}.yaml"


def load_settings(
    path: str | Path | None = None, env: str | None = None, base: Path | None = None
) -> Settings:
    """Load settings from ``path``, else ``$RECONNECT_CONF``, else the settings of ``env``.

    ``env`` defaults to ``$RECONNECT_ENV`` or ``local``; its file is ``./conf/<env>.yaml`` when
    the current folder has one, else the packaged one (:func:`env_settings_file`). Relative
    paths in the file are resolved against ``base`` (default: the current directory), so runs
    keep their data in ``./var`` of the folder they start in.
    """
    if path is None and os.environ.get(CONF_VAR):
        path = os.environ[CONF_VAR]
    if path is None:
        env = env or os.environ.get(ENV_VAR) or "local"
        path = env_settings_file(env)
        if not path.is_file():
            raise SettingsError(
                f"no settings for environment {env!r}: neither {LOCAL_CONF_DIR / f'{env}.yaml'}"
                f" nor the packaged {path} exists"
            )
    path = Path(path)
    if not path.is_file():
        raise SettingsError(f"{path}: settings file not found")
    try:
        raw: Any = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise SettingsError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise SettingsError(f"{path}: expected a mapping at the top level")
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as e:
        raise SettingsError(_format_error(str(path), e)) from e
    return settings.model_copy(update={"paths": settings.paths.resolved(base or Path.cwd())})
