"""Console pages: parse the request, call services/, render a template."""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, session, url_for

from espalier.services import audit, auth, commands, devices, fleet
from espalier.services.errors import NotFound, ServiceError
from espalier.web import runtime
from espalier.web.console import bp, csrf_token, login_required, require
from espalier.web.console.charts import bars

VIEW_DEVICES = "mdm.view_enrolleddevice"
SECRET_PERMISSION = {"filevault_prk": "mdm.view_filevault_prk", "recovery_password": "mdm.view_recovery_password"}
ACTIONS = {"block": "mdm.change_enrolleddevice", "unblock": "mdm.change_enrolleddevice", "lock": "mdm.add_devicecommand"}


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/console/") and not target.startswith("//") else url_for(".overview")


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        username, password = request.form.get("username", ""), request.form.get("password", "")
        key = request.form.get("token", "").strip()
        with runtime().db.session() as s, s.begin():
            if key:
                found = auth.authenticate(s, key)
                token_id, who = (found.token_id, auth.token_info(s, found.token_id)["user"]) if found else (None, None)
            else:
                token_id, who = auth.login(s, username, password), username
        if token_id is not None:
            session.clear()
            session.update(token_id=token_id, user=who)
            csrf_token()
            return redirect(_safe_next(request.args.get("next")))
        error = "Wrong username, password or token (or no console permissions: espalier user set-password --role)."
    return render_template("login.html", error=error), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
def logout():
    session.clear()
    return redirect(url_for(".login"))


@bp.route("/")
@login_required(VIEW_DEVICES)
def overview():
    with runtime().db.session() as s:
        o = fleet.overview(s)
        return render_template("overview.html", o=o, platform_chart=bars(o.by_platform, "Devices by platform"),
                               os_chart=bars(o.by_os_version, "Devices by OS version"),
                               seen_chart=bars(o.last_seen, "Last seen"))


@bp.route("/devices/")
@login_required(VIEW_DEVICES)
def device_list():
    q = request.args.get("q", "").strip()[:256] or None
    after = request.args.get("after", "0")
    after_id = int(after) if after.isdigit() and len(after) < 12 else 0
    with runtime().db.session() as s:
        rows, next_after = fleet.device_page(s, q, after_id)
        return render_template("devices.html", devices=rows, q=q or "", next_after=next_after, after=after_id)


@bp.route("/devices/<int:device_id>/")
@login_required(VIEW_DEVICES)
def device_detail(device_id: int):
    with runtime().db.session() as s:
        device = _device(s, device_id)
        queue = (commands.list_commands(s, device_id=device_id, limit=50)[0]
                 if "mdm.view_devicecommand" in g.permissions else None)
        return render_template("device.html", d=device, queue=queue, secret_permission=SECRET_PERMISSION)


def _actor() -> audit.Actor:
    """The logged-in token (its user is read with the event)."""
    return audit.Actor(token_id=session.get("token_id"), user_id=None)


@bp.route("/devices/<int:device_id>/secret/<field>", methods=["POST"])
@login_required(VIEW_DEVICES)
def device_secret(device_id: int, field: str):
    _gate(SECRET_PERMISSION, field)
    with runtime().db.session() as s, s.begin():  # the reveal's audit event commits with it
        device = _device(s, device_id)
        _, value = devices.reveal_secret(s, runtime().secrets, device_id, field, _actor(), runtime().queue)
        page = render_template("secret.html", d=device, field=field, value=value)
    return page


@bp.route("/devices/<int:device_id>/<action>", methods=["POST"])
@login_required(VIEW_DEVICES)
def device_action(device_id: int, action: str):
    _gate(ACTIONS, action)
    rt = runtime()
    if request.form.get("confirmed") != "yes":  # the confirmation step
        with rt.db.session() as s:
            return render_template("confirm.html", d=_device(s, device_id), action=action)
    with rt.db.session() as s, s.begin():
        try:
            if action == "lock":
                data = {k: v for k in ("pin", "message") if (v := request.form.get(k, "").strip())}
                cmd = devices.queue(s, rt, device_id, "DeviceLock", data, _actor())
                flash(f"DeviceLock queued ({cmd.uuid}); the device answers at its next contact.")
            else:
                getattr(devices, action)(s, device_id, _actor())
                flash(f"Device {action}ed.")
        except NotFound:
            abort(404)
        except ServiceError as exc:
            detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in (exc.errors or {}).items()) or exc.detail
            flash(detail, "error")
    return redirect(url_for(".device_detail", device_id=device_id))


@bp.route("/push_certificates/")
@login_required("mdm.view_pushcertificate")
def push_certificates():
    with runtime().db.session() as s:
        return render_template("push_certificates.html", certs=fleet.push_certificates(s))


@bp.route("/tasks/")
@login_required()
def tasks():
    with runtime().db.session() as s:
        return render_template("tasks.html", tasks=fleet.recent_tasks(s))


def _gate(permission_of: dict[str, str], name: str) -> None:
    """404 for a name the console does not know, the permission page without its permission."""
    if name not in permission_of:
        abort(404)
    require(permission_of[name])


def _device(s, device_id: int):
    try:
        return devices.get_device(s, device_id)
    except NotFound:
        abort(404)
