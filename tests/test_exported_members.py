"""The public API of every module is its __all__, pinned here so a change is deliberate."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import deconflict

EXPORTS: dict[str, list[str]] = {
    "deconflict": ["__version__"],
    "deconflict.api": [
        "create_app",
    ],
    "deconflict.api.app": [
        "create_app",
        "error_codes",
    ],
    "deconflict.api.guard": [
        "RequestGuard",
        "json_depth",
    ],
    "deconflict.api.params": [
        "decode_cursor",
        "encode_cursor",
        "parse_bbox",
        "parse_body",
        "parse_enum",
        "parse_if_match",
        "parse_limit",
        "parse_optional_time",
    ],
    "deconflict.api.problems": [
        "PROBLEM_TYPE_BASE",
        "install_problem_handlers",
        "problem_response",
    ],
    "deconflict.api.routes": [
        "build_router",
    ],
    "deconflict.api.schemas": [
        "CheckResult",
        "ConflictOut",
        "ConflictPage",
        "DeclarationIn",
        "DeclarationOut",
        "DeclarationPage",
        "DeclarationPatch",
        "Outcome",
        "PartyPage",
        "PrincipalOut",
        "Problem",
        "Volume4D",
        "WRITE_MODELS",
        "problem_doc",
    ],
    "deconflict.cli": ["app", "main"],
    "deconflict.conflicts": [
        "Conflict",
        "ConflictState",
        "Side",
        "new_conflict",
        "refresh_conflict",
        "sides_of",
    ],
    "deconflict.declarations": [
        "DETECTABLE_STATES",
        "Declaration",
        "Kind",
        "MAX_VOLUMES",
        "MeasureType",
        "PROTECTED_KINDS",
        "SiteType",
        "State",
        "TRANSITIONS",
        "Verification",
        "apply_patch",
        "from_json",
        "parse_new",
    ],
    "deconflict.demo": ["DEMO_TOKENS_FILE", "SCENARIO", "load_scenario", "scenario"],
    "deconflict.detection": ["Finding", "Overlap", "detect", "detect_pair", "pair_rule"],
    "deconflict.disclosure": [
        "Role",
        "Viewer",
        "WRITER_ROLES",
        "can_amend",
        "can_see",
        "conflict_view",
        "viewer_side",
    ],
    "deconflict.errors": [
        "AuthenticationRequired",
        "DeconflictError",
        "FieldError",
        "Forbidden",
        "IllegalTransition",
        "InvalidInput",
        "NotFound",
        "PayloadTooLarge",
        "PreconditionRequired",
        "UnsupportedMediaType",
        "VersionMismatch",
        "pointer_token",
    ],
    "deconflict.footprints": [
        "Footprint",
        "GEOMETRY_TYPES",
        "MAX_AREA_M2",
        "MAX_BUFFER_M",
        "MAX_RADIUS_M",
        "MAX_VERTICES",
        "parse_footprint",
    ],
    "deconflict.geodesy": [
        "Approach",
        "DENSIFY_SPACING_M",
        "GEOD",
        "PROJECTION_GRID_DEG",
        "Shape",
        "approach",
        "densify",
        "grown_intersection",
        "lonlat_box",
        "planar",
        "projection_at",
        "unproject",
        "unwrap",
        "wrap_lon",
    ],
    "deconflict.indexing": ["Box", "boxes_intersect", "index_boxes", "query_boxes"],
    "deconflict.merkle": [
        "NodeLookup",
        "ProofError",
        "appended_nodes",
        "consistency_proof",
        "inclusion_proof",
        "leaf_hash",
        "node_hash",
        "range_root",
        "root",
        "stored_consistency_proof",
        "stored_inclusion_proof",
        "stored_root",
        "verify_consistency",
        "verify_inclusion",
    ],
    "deconflict.notes": [
        "Checkpoint",
        "NoteError",
        "SignerKey",
        "VerifierKey",
        "open_note",
        "sign_note",
    ],
    "deconflict.offline": ["detect_all", "parse_feature_collection"],
    "deconflict.principals": ["Party", "Principal", "TOKEN_PREFIX", "hash_token", "new_token"],
    "deconflict.rules": [
        "ConflictKind",
        "DEFAULT_AIR_SEPARATION_FT",
        "DEFAULT_AIR_SEPARATION_NM",
        "DEFAULT_PROTECTED_SITE_RADIUS_M",
        "OPERATION_KINDS",
        "Rule",
        "RuleSet",
        "Severity",
        "default_rules",
    ],
    "deconflict.service": ["Channel", "Outcome", "new_id", "utc_now"],
    "deconflict.settings": ["DATABASE_FILE", "Settings", "setting_docs"],
    "deconflict.store": [
        "ConflictQuery",
        "DeclarationQuery",
        "Page",
        "SqliteStore",
        "Store",
        "StoreTxn",
    ],
    "deconflict.store.base": ["ConflictQuery", "DeclarationQuery", "Page", "Store", "StoreTxn"],
    "deconflict.store.sqlite": ["DECLARATION_CACHE_SIZE", "SqliteStore", "SqliteTxn"],
    "deconflict.store.sqlite_schema": ["MIGRATIONS"],
    "deconflict.units": [
        "ALTITUDE_TOLERANCE_M",
        "AltitudeReference",
        "AltitudeUnits",
        "DISTANCE_TOLERANCE_M",
        "FT_M",
        "NM_M",
        "REFERENCE_MISMATCH_MARGIN_M",
        "to_metres",
    ],
    "deconflict.volumes": [
        "AltitudeBand",
        "MAX_ALTITUDE_M",
        "MAX_WINDOW",
        "MIN_ALTITUDE_M",
        "TimeWindow",
        "Volume4D",
        "format_time",
        "parse_time",
        "parse_volume",
    ],
}


@pytest.mark.parametrize("module", sorted(EXPORTS))
def test_module_exports_exactly_its_pinned_names(module: str) -> None:
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == EXPORTS[module]
    assert all(hasattr(mod, name) for name in mod.__all__)


def test_every_module_is_pinned() -> None:
    found = {m.name for m in pkgutil.walk_packages(deconflict.__path__, "deconflict.")}
    assert found - {"deconflict.__main__"} == set(EXPORTS) - {"deconflict"}
