"""flask --app app … commands: deploy, create-user, list-cases, seed, backup, materials sweep, …"""
from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app

from .errors import DomainError
from .extensions import db
from .services import accounts, cases, clock, forms, processes, seed
from .services.uow import run_use_case


def _fail(exc: DomainError) -> None:
    detail = f"\n{exc.errors}" if exc.errors else ""
    raise click.ClickException(f"{exc.message}{detail}")


def _date_list(text: str) -> list:
    """'2027-02-06..2027-02-08,2027-02-14' -> the dates, ranges expanded."""
    from .services.calendar import parse_date_list
    try:
        return parse_date_list(text)
    except DomainError as exc:
        raise click.BadParameter(exc.message) from None


def register_cli(app: Flask) -> None:
    @app.cli.command("deploy")
    @click.argument("path", type=click.Path(exists=True, path_type=Path))
    def deploy_command(path: Path):
        """Deploy a .bpmn file, or every .bpmn (and forms/*.json) in a folder."""
        now = clock.now()
        try:
            if path.is_dir():
                def use_case():
                    forms_dir = current_app.config["FORMS_DIR"]
                    forms.load_folder(db.session, forms_dir, now)
                    return processes.deploy_folder(db.session, path, actor_id=None, now=now)
                done = run_use_case(db.session, use_case)
            else:
                done = [run_use_case(db.session, lambda: processes.deploy(
                    db.session, path.read_bytes(), filename=path.name, actor_id=None, now=now))]
        except DomainError as exc:
            _fail(exc)
        for d in done:
            click.echo(f"{d.key} v{d.version}  {d.name}")

    @app.cli.command("create-user")
    @click.argument("username")
    @click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
    @click.option("--name", default="")
    @click.option("--department", default=None, help="部门代码或名称")
    @click.option("--role", "roles", multiple=True, required=True,
                  type=click.Choice(["admin", "analyst", "clerk", "approver", "manager"]))
    def create_user_command(username, password, name, department, roles):
        """Create a user."""
        try:
            user = run_use_case(db.session, lambda: accounts.create_user(
                db.session, username=username, password=password, name=name or username,
                department=department, roles=list(roles), actor_id=None, now=clock.now()))
        except DomainError as exc:
            _fail(exc)
        click.echo(f"created user {user.username} ({','.join(user.roles)})")

    @app.cli.command("list-cases")
    @click.option("--status", default=None)
    @click.option("--limit", default=50)
    def list_cases_command(status, limit):
        """List the newest cases."""
        for case in cases.list_cases(db.session, status=status, limit=limit):
            click.echo(f"{case.case_no}  {case.status:<10} {case.process_key:<24} {case.applicant_name}")

    audit_group = click.Group("audit", help="Audit log tools.")
    app.cli.add_command(audit_group)

    @audit_group.command("verify")
    def audit_verify_command():
        """Check every case's audit hash chain; exit 1 if anything was changed or removed."""
        from .services import audit
        problems = audit.verify(db.session)
        for p in problems:
            click.echo(f"{p.case_no}  event {p.event_id or '-'}: {p.problem}")
        if problems:
            raise SystemExit(1)
        click.echo("audit log intact")

    calendar_group = click.Group("calendar", help="The legal working-day calendar.")
    app.cli.add_command(calendar_group)

    @calendar_group.command("import")
    @click.argument("year", type=int)
    @click.option("--holidays", "holidays_text", required=True,
                  help="全部放假日期，逗号分隔，可用区间：2027-02-06..2027-02-12,2027-10-01..2027-10-07")
    @click.option("--workdays", "workdays_text", default="", help="调休上班日期，逗号分隔")
    @click.option("--source", default="", help="文件依据，如 国办发明电〔2026〕X号")
    def calendar_import_command(year, holidays_text, workdays_text, source):
        """Import a year's official holiday schedule (State Council notice)."""
        from .services import calendar
        try:
            holidays_list, workdays_list = _date_list(holidays_text), _date_list(workdays_text)
            run_use_case(db.session, lambda: calendar.import_year(
                db.session, year=year, holidays_list=holidays_list, workdays_list=workdays_list,
                source=source, actor_id=None, now=clock.now()))
        except DomainError as exc:
            _fail(exc)
        click.echo(f"{year}: {len(holidays_list)} holidays, {len(workdays_list)} make-up working days imported")

    @app.cli.command("backup")
    @click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
    def backup_command(target: Path):
        """Write a consistent copy of the SQLite database while the app runs (PostgreSQL: use pg_dump)."""
        from .database import sqlite_backup
        try:
            sqlite_backup(db.engine, target)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"backup written to {target}")

    @app.cli.command("restore")
    @click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.confirmation_option(prompt="Replace the current database with the backup? Stop the server first.")
    def restore_command(source: Path):
        """Replace the SQLite database with a backup (stop the server first)."""
        from .database import sqlite_restore
        try:
            sqlite_restore(db.engine, source)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo("database restored")

    materials_group = click.Group("materials", help="The store of uploaded material files.")
    app.cli.add_command(materials_group)

    @materials_group.command("sweep")
    @click.option("--min-age-hours", type=click.FloatRange(min=0), default=24.0, show_default=True,
                  help="Only files older than this: an upload in progress is never older than a few minutes")
    @click.option("--dry-run", is_flag=True, help="Report what would be removed, remove nothing")
    def materials_sweep_command(min_age_hours: float, dry_run: bool):
        """Remove stored files no material refers to (left by failed uploads) and stale staging files."""
        from .services import material_files
        from .services.blobs import BlobStore
        report = material_files.sweep(db.session, BlobStore(current_app.config["INSTANCE_DIR"]),
                                      min_age_seconds=min_age_hours * 3600, now=clock.now(), dry_run=dry_run)
        verb = "would remove" if dry_run else "removed"
        click.echo(f"{verb} {len(report.removed)} unreferenced files ({report.removed_bytes} bytes) of "
                   f"{report.checked} checked, and {report.removed_staging} stale staging files")

    processes_group = click.Group("processes", help="Diagrams and catalogs.")
    app.cli.add_command(processes_group)

    @processes_group.command("lint")
    @click.argument("folder", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
    def lint_command(folder):
        """Check every diagram and catalog in FOLDER (default: processes/); exit 1 on any problem."""
        folder = folder or Path(app.config["PROCESSES_DIR"])
        problems = processes.lint_folder(db.session, folder, Path(app.config["FORMS_DIR"]))
        for name, element_id, message in problems:
            click.echo(f"{name}: {element_id or '-'}: {message}")
        db.session.rollback()
        if problems:
            raise SystemExit(1)
        click.echo(f"{len(list(folder.glob('*.bpmn')))} 个流程，未发现问题")

    @processes_group.command("test")
    @click.argument("folder", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
    @click.option("--service", "key", default=None, help="只运行该流程的场景（流程 id）")
    def test_command(folder, key):
        """Run the scenarios in FOLDER/scenarios/ (default: processes/) in a sandbox; exit 1 on any failure."""
        from .services import calendar, scenarios
        folder = folder or Path(app.config["PROCESSES_DIR"])
        results = scenarios.run_folder(folder, Path(app.config["FORMS_DIR"]), calendar.load(db.session), key=key,
                                       departments=scenarios.department_names(db.session))
        db.session.rollback()  # read only: nothing of a test run is ever stored
        for result in results:
            click.echo(f"{'通过' if result['passed'] else '失败'}  {result['file']}  {result['scenario']}")
            if result.get("error"):
                click.echo(f"    第 {result['error']['step']} 步出错：{result['error']['message']}"
                           + (f" {result['error']['errors']}" if result["error"].get("errors") else ""))
            for check in result["checks"]:
                if not check["ok"]:
                    click.echo(f"    {check['check']}：期望 {check['expected']}，实际 {check['actual']}")
        failed = sum(not r["passed"] for r in results)
        click.echo(f"{len(results)} 个场景，{len(results) - failed} 个通过，{failed} 个失败")
        if failed or not results:
            raise SystemExit(1)

    @app.cli.command("seed")
    def seed_command():
        """Load the demo departments, users and services (idempotent)."""
        cfg = current_app.config
        created = run_use_case(db.session, lambda: seed.load_demo(
            db.session, password=cfg["DEMO_PASSWORD"], processes_dir=cfg["PROCESSES_DIR"],
            forms_dir=cfg["FORMS_DIR"], now=clock.now()))
        click.echo(f"demo users created: {len(created)}")
