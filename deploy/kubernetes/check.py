#!/usr/bin/env python3
"""Offline checks of this directory, for want of a cluster and a libSQL server.

    python3 deploy/kubernetes/check.py core.spinkube.dev_spinapps.yaml

The argument is the SpinApp CRD of spin-operator
(config/crd/bases/core.spinkube.dev_spinapps.yaml). Needs PyYAML and
jsonschema. Checks:

1. spinapp.yaml against the CRD's openAPIV3Schema, unknown fields rejected
   (the API server would drop or refuse them), plus the webhook's rules
   (internal/webhook/spinapp_validating.go: executor set, replicas >= 1);
2. every secretKeyRef names a key of secrets.template.yaml, and no key is
   unused; every secret variable of spin.toml is bound from a Secret; every
   SQLite label of spin.toml has a database;
3. the runtime config the operator renders (internal/runtimeconfig/types.go:
   one `[sqlite_database.<name>]` per entry, `type` plus one key per option)
   equals runtime-config.toml, and both fit Spin's libsql type (spin v3.6.3
   crates/sqlite/src/lib.rs: exactly `url` and `token`, http(s) URL);
4. the services' migrations and the statements a libSQL default could change
   replayed on the local SQLite with PRAGMA foreign_keys=ON, libSQL's
   compile-time default (libsql-ffi/build.rs: SQLITE_DEFAULT_FOREIGN_KEYS=1).
   This is SQLite, not libSQL: it proves the SQL, not the server.
"""
import copy
import pathlib
import re
import sqlite3
import sys
import tomllib

import jsonschema
import yaml

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def strict(node):
    """additionalProperties: false wherever the schema lists properties."""
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            strict(value)
    elif isinstance(node, list):
        for value in node:
            strict(value)


def check_manifests(crd_path):
    crd = yaml.safe_load(open(crd_path))
    assert crd["spec"]["names"]["kind"] == "SpinApp", crd_path
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1")
    schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
    strict(schema)
    schema["properties"]["metadata"] = {"type": "object"}

    (app,) = yaml.safe_load_all(open(HERE / "spinapp.yaml"))
    assert app["apiVersion"] == crd["spec"]["group"] + "/v1alpha1"
    assert app["kind"] == "SpinApp"
    jsonschema.validate(app, schema, cls=jsonschema.Draft7Validator)
    spec = app["spec"]
    assert spec.get("executor"), "executor must be set"
    assert spec.get("enableAutoscaling") or spec.get("replicas", 0) >= 1
    print("ok  spinapp.yaml fits the SpinApp CRD schema and the webhook's rules")

    secrets = {}
    for doc in yaml.safe_load_all(open(HERE / "secrets.template.yaml")):
        assert (doc["apiVersion"], doc["kind"], doc["type"]) == ("v1", "Secret", "Opaque")
        assert all(isinstance(v, str) for v in doc["stringData"].values())
        secrets[doc["metadata"]["name"]] = doc["stringData"]
    refs = [v["valueFrom"]["secretKeyRef"] for v in spec["variables"] if "valueFrom" in v]
    for database in spec["runtimeConfig"]["sqliteDatabases"]:
        refs += [o["valueFrom"]["secretKeyRef"] for o in database["options"] if "valueFrom" in o]
    used = {(r["name"], r["key"]) for r in refs}
    defined = {(name, key) for name, data in secrets.items() for key in data}
    assert used == defined, ("keys used but not defined, or defined but unused", used ^ defined)

    manifest = tomllib.load(open(ROOT / "spin.toml", "rb"))
    declared = manifest["variables"]
    bound = {v["name"]: v for v in spec["variables"]}
    assert set(bound) <= set(declared), set(bound) - set(declared)
    for name, declaration in declared.items():
        if declaration.get("secret"):
            assert "secretKeyRef" in bound.get(name, {}).get("valueFrom", {}), name
    labels = {l for c in manifest["component"].values() for l in c.get("sqlite_databases", [])}
    rendered = {}
    for database in spec["runtimeConfig"]["sqliteDatabases"]:
        table = {"type": database["type"]}
        for option in database["options"]:
            ref = option.get("valueFrom", {}).get("secretKeyRef")
            table[option["name"]] = secrets[ref["name"]][ref["key"]] if ref else option.get("value", "")
        rendered[database["name"]] = table
    assert set(rendered) == labels, (set(rendered), labels)
    print(f"ok  {len(refs)} secretKeyRefs match secrets.template.yaml; spin.toml's secret "
          f"variables and SQLite labels {sorted(labels)} are all bound")

    file_config = tomllib.load(open(HERE / "runtime-config.toml", "rb"))
    assert set(file_config) == {"sqlite_database"}
    for source, tables in (("rendered", rendered), ("runtime-config.toml", file_config["sqlite_database"])):
        for label, table in tables.items():
            assert table["type"] == "libsql" and set(table) == {"type", "url", "token"}, (source, label)
            assert table["url"].startswith(("https://", "http://")), (source, label)
    assert rendered == file_config["sqlite_database"]
    print("ok  the operator's rendering equals runtime-config.toml; both fit Spin's libsql type")


LITERAL = re.compile(r'"((?:[^"\\]|\\.)*)"', re.S)


def rust_string(text):
    text = re.sub(r"\\\n\s*", "", text)
    return text.replace('\\"', '"').replace("\\\\", "\\")


def statements(service):
    text = (ROOT / service / "src" / "schema.rs").read_text()
    start = text.index("pub const MIGRATIONS")
    body = re.sub(r"^\s*//.*$", "", text[start:text.index("\n];", start)], flags=re.M)
    return [rust_string(s) for s in LITERAL.findall(body)]


def kit_constant(name):
    text = (ROOT / "kit" / "src" / "migrate.rs").read_text()
    return rust_string(re.search(rf'const {name}: &str =\s*"((?:[^"\\]|\\.)*)"', text, re.S).group(1))


def check_sql():
    now = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"
    dbs = {}
    for service in ("auth", "pieces", "stock", "notifications"):
        db = sqlite3.connect(":memory:", isolation_level=None)  # autocommit, as over Hrana
        db.execute("PRAGMA foreign_keys=ON")
        db.execute(kit_constant("READ_COMPLETE")).fetchone()
        db.execute(kit_constant("CREATE_SCHEMA_VERSION"))
        steps = statements(service)
        for _ in range(2):  # a second run must change nothing
            for statement in steps:
                db.execute(statement)
        db.execute(kit_constant("RECORD_APPLIED"), (1,))
        db.execute("PRAGMA user_version = 7")
        assert db.execute(kit_constant("READ_COMPLETE")).fetchone() == (7,)
        dbs[service] = db
    print("ok  migrations of the four services applied twice with foreign_keys=ON; "
          "PRAGMA user_version read and written")

    stock = dbs["stock"]
    stock.execute(f"INSERT INTO pieces (piece_id, reference, name, category, min_stock, archived, refreshed_at) "
                  f"VALUES (1, 'R1', 'Vis', 'c', 2, 0, {now})")
    stock.execute(f"INSERT INTO levels (piece_id, quantity, updated_at) VALUES (1, 0, {now})")
    stock.execute("INSERT INTO pieces_folded (piece_id, reference, name) VALUES (1, 'r1', 'vis')")
    for kind, quantity, delta in (("IN", 5, 5), ("OUT", 4, -4)):
        rows = stock.execute(
            "INSERT INTO movements (piece_id, type, quantity, delta, level_after, note, user_id, username, created_at) "
            f"SELECT 1, ?, ?, ?, quantity + ?, '', 1, 'u', {now} FROM levels WHERE piece_id = 1 RETURNING id",
            (kind, quantity, delta, delta)).fetchall()
        assert len(rows) == 1
    assert stock.execute("SELECT quantity FROM levels").fetchone() == (1,)
    assert stock.execute("SELECT json_extract(payload, '$.type') FROM outbox").fetchall() == [("low_stock",)]
    try:
        stock.execute("UPDATE movements SET note = 'x'")
        raise AssertionError("a movement was updated")
    except sqlite3.IntegrityError as error:
        assert "never updated" in str(error)
    stock.execute(f"INSERT INTO pieces (piece_id, reference, name, category, min_stock, archived, refreshed_at) "
                  f"VALUES (1, 'R1b', 'Vis', 'c', 2, 0, {now}) ON CONFLICT (piece_id) DO UPDATE SET "
                  "reference = excluded.reference, name = excluded.name")
    assert stock.execute("SELECT count(*) FROM pieces_folded").fetchone() == (0,)
    stock.execute(f"INSERT INTO pieces (piece_id, reference, name, category, min_stock, archived, refreshed_at) "
                  f"VALUES (2, 'R2', 'Ecrou', 'c', 0, 0, {now})")
    stock.execute("INSERT INTO pieces_folded (piece_id, reference, name) VALUES (2, 'r2', 'ecrou')")
    stock.execute("DELETE FROM pieces WHERE piece_id = 2")  # its fold goes in the same statement
    print("ok  stock: INSERT ... SELECT ... RETURNING, triggers (level, outbox with json_object, "
          "RAISE(ABORT), rename, delete), ON CONFLICT DO UPDATE, foreign keys checked at statement end")

    pieces = dbs["pieces"]
    columns = pieces.execute("PRAGMA table_info(pieces)").fetchall()
    values = {}
    for _, name, kind, notnull, default, pk in columns:
        if pk or not notnull or default is not None:
            continue
        values[name] = "Roulement à billes" if name == "search" else (1 if "INT" in kind.upper() else f"v-{name}")
    piece = pieces.execute(f"INSERT INTO pieces ({', '.join(values)}) VALUES ({', '.join('?' * len(values))}) "
                           "RETURNING id", list(values.values())).fetchone()[0]
    match = "SELECT rowid FROM pieces_fts WHERE pieces_fts MATCH ?"
    assert pieces.execute(match, ('"lement"',)).fetchall() == [(piece,)]
    pieces.execute("DELETE FROM pieces WHERE id = ? RETURNING id", (piece,)).fetchall()
    assert pieces.execute(match, ('"lement"',)).fetchall() == []
    print("ok  pieces: FTS5 trigram index kept by its triggers, substring MATCH, DELETE ... RETURNING")

    notes = dbs["notifications"]
    note = notes.execute("INSERT INTO notifications (event_id, type, title, message, audience_role, created_at) "
                         "VALUES ('e1', 'manual', 't', 'm', 2, '2000-01-01T00:00:00Z') "
                         "ON CONFLICT (event_id) DO NOTHING RETURNING id").fetchone()[0]
    notes.execute(f"INSERT INTO reads (notification_id, user_id, read_at) VALUES (?, 1, {now})", (note,))
    notes.execute("DELETE FROM notifications WHERE created_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?1) "
                  "RETURNING id", ("-90 days",)).fetchall()
    assert notes.execute("SELECT count(*) FROM reads").fetchone() == (0,)
    print("ok  notifications: ON CONFLICT DO NOTHING RETURNING, purge with strftime modifier, "
          "WITHOUT ROWID child rows removed by trigger")
    print(f"    (SQLite {sqlite3.sqlite_version} of this Python, not libSQL)")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    check_manifests(sys.argv[1])
    check_sql()
