"""`reserve users ...`: users, their roles and organisational units.

The first user of a fresh database must be an administrator; after that only an active
administrator (`--as`) registers, deactivates and changes users and units.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from reserve.cli.context import state
from reserve.cli.render import emit_json, out, table
from reserve.governance.people import OrgUnit, Role, User
from reserve.services import governance

app = typer.Typer(help="Users, their roles and organisational units.", no_args_is_help=True)
units = typer.Typer(help="Organisational units users belong to.", no_args_is_help=True)
app.add_typer(units, name="units")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Username = Annotated[str, typer.Argument(help="Login name, e.g. legal1.")]
RoleName = Annotated[Role, typer.Argument(help="One of the roles, e.g. legal-officer.")]


def _user_row(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "full_name": user.full_name,
        "unit": user.unit,
        "roles": sorted(user.roles),
        "active": user.active,
    }


def _show(user: User) -> None:
    roles = ", ".join(sorted(user.roles))
    status = "active" if user.active else "deactivated"
    out.print(f"user {user.username}: {user.unit}; {roles}; {status}", markup=False)


@app.command()
def add(
    ctx: typer.Context,
    username: Username,
    name: Annotated[str, typer.Option("--name", help="Full name.")],
    unit: Annotated[str, typer.Option("--unit", help="Code of the user's unit, e.g. LEGAL.")],
    role: Annotated[
        list[Role] | None, typer.Option("--role", help="A role; repeat for several.")
    ] = None,
) -> None:
    """Register a user; the first user of a fresh database must be an administrator.

    Example: `reserve --as admin users add legal1 --name "Legal officer 1" --unit LEGAL
    --role legal-officer`
    """
    cli = state(ctx)
    user = User(username, name, unit, frozenset(role or ()))
    _show(governance.add_user(cli.reserve(), user, actor=cli.actor))


@app.command("list")
def list_users(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List the users, their units and roles.

    Example: `reserve users list --json`
    """
    found = governance.list_users(state(ctx).reserve())
    if as_json:
        emit_json([_user_row(u) for u in found])
        return
    table(
        "Users",
        ("username", "name", "unit", "roles", "active"),
        (
            (u.username, u.full_name, u.unit, ", ".join(sorted(u.roles)), _yes(u.active))
            for u in found
        ),
    )


@app.command()
def deactivate(ctx: typer.Context, username: Username) -> None:
    """Deactivate a user: they can no longer act or approve (users are never deleted).

    Example: `reserve --as admin users deactivate legal1`
    """
    cli = state(ctx)
    _show(governance.set_user_active(cli.reserve(), username, active=False, actor=cli.actor))


@app.command()
def activate(ctx: typer.Context, username: Username) -> None:
    """Reactivate a deactivated user.

    Example: `reserve --as admin users activate legal1`
    """
    cli = state(ctx)
    _show(governance.set_user_active(cli.reserve(), username, active=True, actor=cli.actor))


@app.command()
def grant(ctx: typer.Context, username: Username, role: RoleName) -> None:
    """Give a user one more role.

    Example: `reserve --as admin users grant legal1 committee-member`
    """
    cli = state(ctx)
    _show(governance.grant_role(cli.reserve(), username, role, actor=cli.actor))


@app.command()
def revoke(ctx: typer.Context, username: Username, role: RoleName) -> None:
    """Take a role away from a user.

    Example: `reserve --as admin users revoke legal1 committee-member`
    """
    cli = state(ctx)
    _show(governance.revoke_role(cli.reserve(), username, role, actor=cli.actor))


@units.command("add")
def add_unit(
    ctx: typer.Context,
    code: Annotated[str, typer.Argument(help="Short code, e.g. LEGAL.")],
    name: Annotated[str, typer.Option("--name", help="Full name.")],
) -> None:
    """Register an organisational unit.

    Example: `reserve --as admin users units add LEGAL --name "Legal department"`
    """
    cli = state(ctx)
    governance.add_unit(cli.reserve(), OrgUnit(code, name), actor=cli.actor)
    out.print(f"unit {code}", markup=False)


@units.command("list")
def list_units(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List the organisational units.

    Example: `reserve users units list --json`
    """
    found = governance.list_units(state(ctx).reserve())
    if as_json:
        emit_json([{"code": u.code, "name": u.name} for u in found])
        return
    table("Units", ("code", "name"), ((u.code, u.name) for u in found))


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
