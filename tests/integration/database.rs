//! The database secrets engine against real OpenBao and a real PostgreSQL: DR issues working
//! credentials from a config whose password came through the escrow; without the escrow a config
//! is copied without its password, reported, and an update keeps the password DR set itself;
//! static roles are created only when `REPLICATOR_DATABASE_STATIC_ROLES=true`.

use serde_json::{Value, json};

use super::support::{Bao, Pair, Postgres, data, words, writes};

const ESCROW: (&str, &str) = ("REPLICATOR_ESCROW_MOUNT", "escrow");
const STATIC: (&str, &str) = ("REPLICATOR_DATABASE_STATIC_ROLES", "true");

const CREATE: &str = "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' \
                      VALID UNTIL '{{expiration}}';";

/// A postgres config `pg` and a dynamic role `app` on `bao` (password only when `password`).
fn seed(bao: &Bao, pg: &Postgres, password: Option<&str>) {
    bao.write("sys/mounts/database", json!({"type": "database"}));
    let mut config = json!({"plugin_name": "postgresql-database-plugin",
        "connection_url": pg.url(), "username": pg.admin.0, "allowed_roles": ["app", "fixed"],
        "max_open_connections": 4, "verify_connection": false});
    if let Some(pw) = password {
        config["password"] = json!(pw);
    }
    bao.write("database/config/pg", config);
    bao.write(
        "database/roles/app",
        json!({"db_name": "pg", "creation_statements": [CREATE], "default_ttl": "1h",
               "max_ttl": "24h", "revocation_statements": ["DROP ROLE \"{{name}}\";"]}),
    );
}

fn escrow(bao: &Bao, path: &str, fields: Value) {
    bao.mount_kv2("escrow");
    bao.kv_put("escrow", path, fields);
}

/// Database credentials from `bao`'s role, and whether they log in.
fn login(bao: &Bao, pg: &Postgres, creds: &str) -> Result<String, String> {
    let c = data(bao, creds);
    let (user, pw) = (
        c["username"].as_str().unwrap(),
        c["password"].as_str().unwrap(),
    );
    pg.psql(user, pw, "select current_user")
}

#[track_caller]
fn assert_same(p: &Pair, paths: &[&str]) {
    for path in paths {
        let (src, dst) = (data(&p.src, path), data(&p.dst, path));
        assert!(!src.is_null(), "{path} missing on the source");
        assert_eq!(src, dst, "{path}");
    }
}

#[test]
fn dr_issues_working_credentials_from_an_escrowed_config() {
    if !Postgres::available() {
        eprintln!("skipped: no PostgreSQL (initdb, postgres, psql) on this machine");
        return;
    }
    let pg = Postgres::start();
    let p = Pair::new();
    seed(&p.src, &pg, Some(pg.admin.1));
    escrow(
        &p.src,
        "database/config/pg",
        json!({"password": pg.admin.1}),
    );
    login(&p.src, &pg, "database/creds/app").unwrap();

    let run = p.sync(&[ESCROW], 0);
    assert!(
        !run.stdout.contains("database password not escrowed"),
        "{}",
        run.stdout
    );
    assert_same(&p, &["database/config/pg", "database/roles/app"]);
    let who = login(&p.dst, &pg, "database/creds/app").unwrap();
    assert!(who.starts_with("v-"), "{who}");
    p.assert_converged();

    // Changed on the source after the first copy: DR follows, and still connects.
    p.src.write(
        "database/config/pg",
        json!({"max_open_connections": 6, "allowed_roles": ["app"], "verify_connection": false}),
    );
    p.src.write(
        "database/roles/app",
        json!({"db_name": "pg",
        "creation_statements": [CREATE], "default_ttl": "2h", "max_ttl": "12h"}),
    );
    p.sync(&[ESCROW], 0);
    assert_same(&p, &["database/config/pg", "database/roles/app"]);
    login(&p.dst, &pg, "database/creds/app").unwrap();
    p.assert_converged();

    // DC's password changes, and the escrow with it: DR follows, though nothing readable did.
    let sql = "ALTER USER admin PASSWORD 'admin-pw-2'";
    pg.psql(pg.admin.0, pg.admin.1, sql).unwrap();
    let pw = json!({"password": "admin-pw-2", "verify_connection": false});
    p.src.write("database/config/pg", pw);
    p.src.kv_put(
        "escrow",
        "database/config/pg",
        json!({"password": "admin-pw-2"}),
    );
    let run = p.sync(&[ESCROW], 0);
    assert_eq!(
        writes(&run),
        2,
        "the escrow's secret and the config:\n{}",
        run.stdout
    );
    login(&p.dst, &pg, "database/creds/app").unwrap();
    p.assert_converged();
}

#[test]
fn without_escrow_a_config_goes_without_its_password_and_updates_keep_drs_own() {
    if !Postgres::available() {
        eprintln!("skipped: no PostgreSQL (initdb, postgres, psql) on this machine");
        return;
    }
    let pg = Postgres::start();
    let p = Pair::new();
    seed(&p.src, &pg, Some(pg.admin.1));
    // A password inside the URL is masked when read: that config cannot go at all.
    let embedded = format!(
        "postgresql://admin:{}@127.0.0.1:{}/postgres",
        pg.admin.1, pg.port
    );
    p.src.write(
        "database/config/embedded",
        json!({"plugin_name": "postgresql-database-plugin", "connection_url": embedded,
               "verify_connection": false}),
    );
    let run = p.sync(&[], 0);
    let out = words(&run.stdout);
    assert!(
        out.contains(
            "not copied: database_config database/config/embedded: `connection_url` \
                      embeds a password, which the server masks when read"
        ),
        "{out}"
    );
    assert!(data(&p.dst, "database/config/embedded").is_null());
    assert!(
        out.contains(
            "not copied: database_config database/config/pg: database password not \
                      escrowed: DR cannot connect until it is set"
        ),
        "{out}"
    );
    assert_same(&p, &["database/config/pg", "database/roles/app"]);
    let denied = p.dst.cli(&["read", "database/creds/app"]);
    assert!(!denied.status.success(), "DR connected without a password");
    // DR's operator sets the password there; a config write without one keeps it.
    p.dst.write(
        "database/config/pg",
        json!({"password": pg.admin.1, "verify_connection": false}),
    );
    login(&p.dst, &pg, "database/creds/app").unwrap();
    p.src.write(
        "database/config/pg",
        json!({"max_open_connections": 9, "verify_connection": false}),
    );
    let run = p.sync(&[], 0);
    assert_eq!(writes(&run), 1, "{}", run.stdout);
    assert_same(&p, &["database/config/pg"]);
    login(&p.dst, &pg, "database/creds/app").unwrap();
    p.assert_converged();
}

#[test]
fn static_roles_are_created_only_when_configured() {
    if !Postgres::available() {
        eprintln!("skipped: no PostgreSQL (initdb, postgres, psql) on this machine");
        return;
    }
    let pg = Postgres::start();
    pg.psql(
        pg.admin.0,
        pg.admin.1,
        "CREATE ROLE fixed LOGIN PASSWORD 'initial'",
    )
    .unwrap();
    let p = Pair::new();
    seed(&p.src, &pg, Some(pg.admin.1));
    escrow(
        &p.src,
        "database/config/pg",
        json!({"password": pg.admin.1}),
    );
    p.src.write(
        "database/static-roles/fixed",
        json!({"db_name": "pg", "username": "fixed", "rotation_period": "24h"}),
    );
    let dc = data(&p.src, "database/static-creds/fixed");
    let dc_pw = dc["password"].as_str().unwrap().to_string();
    pg.psql("fixed", &dc_pw, "select 1").unwrap();

    // Off (the default): not created, listed with the reason; DC's password still works.
    let run = p.sync(&[ESCROW], 0);
    let out = words(&run.stdout);
    assert!(
        out.contains(
            "not copied: database_static_role database/static-roles/fixed: static role: created \
             on DR only by an import with REPLICATOR_DATABASE_STATIC_ROLES=true"
        ),
        "{out}"
    );
    assert!(out.contains("database_static_role 0 0 0 0 0 1 0"), "{out}");
    assert!(p.dst.list("database/static-roles").is_empty());
    pg.psql("fixed", &dc_pw, "select 1").unwrap();
    p.assert_converged();

    // On: created, and DR's credentials log in (DR rotated the password when creating it).
    p.sync(&[ESCROW, STATIC], 0);
    let dr = data(&p.dst, "database/static-creds/fixed");
    pg.psql("fixed", dr["password"].as_str().unwrap(), "select 1")
        .unwrap();
    let view = |b: &Bao| {
        let mut d = data(b, "database/static-roles/fixed");
        d.as_object_mut().unwrap().remove("last_vault_rotation");
        d
    };
    assert_eq!(view(&p.src), view(&p.dst));
    p.assert_converged();
}
