"""The console's pages in this process: login and its refusals, who sees which job (as
in the API), CSRF on every change, submission with problems at their lines, and the
headers every page carries."""

from __future__ import annotations

import html
import re

import pytest
import yaml
from fastapi.testclient import TestClient

from broker.console.login import _safe_next
from tests.unit.broker.console.conftest import Api, job_body, log_in


def _client(api: Api) -> TestClient:
    return TestClient(api.client.app)


def test_pages_need_a_session(api: Api) -> None:
    answer = _client(api).get("/ui/jobs/j-1", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login?next=/ui/jobs/j-1"
    stale = _client(api)
    stale.cookies.set("qcb_session", "gone", path="/ui")
    answer = stale.get("/ui/", follow_redirects=False)
    assert answer.headers["location"] == "/ui/login?next=/ui/&expired=1"


def test_login_refusals(api: Api) -> None:
    client = _client(api)
    client.get("/ui/login")
    forged = client.post("/ui/login", data={"nonce": "forged", "token": api.secrets["alice"]})
    assert forged.status_code == 403 and "did not come from this console" in forged.text
    nonce = re.findall(r'name="nonce" value="([^"]+)"', client.get("/ui/login").text)[0]
    wrong = client.post("/ui/login", data={"nonce": nonce, "token": "qcb_wrong"})
    assert wrong.status_code == 401 and "unknown, revoked or expired" in wrong.text
    assert "qcb_session" not in client.cookies
    assert api.audit("deny")[-1].detail["status"] == 401


def test_session_cookie_flags_and_page_headers(api: Api) -> None:
    client = _client(api)
    form = client.get("/ui/login")
    nonce = re.findall(r'name="nonce" value="([^"]+)"', form.text)[0]
    answer = client.post(
        "/ui/login",
        data={"nonce": nonce, "token": api.secrets["alice"]},
        follow_redirects=False,
    )
    cookie = next(c for c in answer.headers.get_list("set-cookie") if "qcb_session=" in c)
    assert {"HttpOnly", "Path=/ui", "SameSite=strict"} <= {p.strip() for p in cookie.split(";")}
    page = client.get("/ui/")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("target", "kept"),
    [
        ("/ui/jobs/j-1", True),
        ("//evil.example/ui/", False),
        ("https://evil.example/ui/", False),
        ("/ui//evil.example", False),
        ("/ui/\\evil.example", False),
        ("/ui/\nSet-Cookie:x", False),
        ("/v1/jobs", False),
        (None, False),
    ],
)
def test_after_login_only_console_paths(target: str | None, kept: bool) -> None:
    assert (_safe_next(target) == target) is kept
    assert _safe_next(target).startswith("/ui/")


def test_each_role_sees_what_the_api_shows(api: Api) -> None:
    job = api.submit("alice", "chem")
    seen = {}
    for user in ("alice", "carol", "bob", "erin", "root"):
        client = _client(api)
        log_in(client, api.secrets[user])
        page = client.get(f"/ui/jobs/{job}")
        rows = client.get("/ui/rows").text
        api_sees = api.client.get(f"/v1/jobs/{job}", headers=api.auth(user)).status_code
        seen[user] = (page.status_code, job in rows, api_sees)
    assert seen == {
        "alice": (200, True, 200),
        "carol": (200, True, 200),
        "bob": (404, False, 404),
        "erin": (404, False, 404),
        "root": (200, True, 200),
    }


def test_someone_elses_job_reads_as_missing(api: Api) -> None:
    job = api.submit("alice", "chem")
    client = _client(api)
    csrf = log_in(client, api.secrets["bob"])
    answers = [client.get(f"/ui/jobs/{ident}") for ident in (job, "j-000000000000")]
    assert [a.status_code for a in answers] == [404, 404]
    assert answers[0].text == answers[1].text
    for path in (f"/ui/jobs/{job}/panel", f"/ui/events?jobs={job}"):
        assert client.get(path).status_code == 404
    assert client.post(f"/ui/jobs/{job}/cancel", data={"csrf": csrf}).status_code == 404


def test_changes_need_the_sessions_csrf_token(api: Api) -> None:
    job = api.submit("alice", "chem")
    client = _client(api)
    csrf = log_in(client, api.secrets["alice"])
    refused = [
        client.post(f"/ui/jobs/{job}/cancel", data={}),
        client.post(f"/ui/jobs/{job}/cancel", data={"csrf": "forged"}),
        client.post("/ui/submit", data={"job": yaml.safe_dump(job_body())}),
        client.post("/ui/logout", data={}),
    ]
    assert [r.status_code for r in refused] == [403] * 4
    assert api.job_rows() == 1
    assert "CANCELLED" not in client.get(f"/ui/jobs/{job}").text
    done = client.post(f"/ui/jobs/{job}/cancel", data={"csrf": csrf})
    assert done.status_code == 200 and "CANCELLED" in done.text


def test_submit_shows_each_problem_at_its_line_and_keeps_the_text(api: Api) -> None:
    client = _client(api)
    csrf = log_in(client, api.secrets["alice"])
    text = yaml.safe_dump(job_body(), sort_keys=False)
    bad = text.replace("name: vqe", "name: vqee").replace("backend: aer", "backend: aer\nshots: -2")
    answer = client.post("/ui/submit", data={"csrf": csrf, "job": bad})
    assert answer.status_code == 422
    lines = bad.splitlines()
    wanted = sorted(i + 1 for i, x in enumerate(lines) if "vqee" in x or "shots: -2" in x)
    assert (
        sorted(int(n) for n in re.findall(r'<li id="line-(\d+)" class="bad">', answer.text))
        == wanted
    )
    assert [f"Line {n}" for n in wanted] == re.findall(r"Line \d+", answer.text)
    assert "name: vqee" in answer.text and api.job_rows() == 0
    broken = client.post("/ui/submit", data={"csrf": csrf, "job": "proposal: [chem\n"})
    assert broken.status_code == 422 and "line 2" in broken.text


def test_submit_refuses_files_on_the_service(api: Api) -> None:
    client = _client(api)
    csrf = log_in(client, api.secrets["alice"])
    job = job_body()
    job["algorithm"] = {"name": "qaoa", "inputs": {"graph_file": "/etc/passwd"}}
    answer = client.post("/ui/submit", data={"csrf": csrf, "job": yaml.safe_dump(job)})
    assert answer.status_code == 422
    assert "cannot name a file on it" in answer.text and "root:" not in answer.text


def test_submit_under_a_proposal_not_yours(api: Api) -> None:
    client = _client(api)
    csrf = log_in(client, api.secrets["alice"])
    answer = client.post("/ui/submit", data={"csrf": csrf, "job": yaml.safe_dump(job_body("bio"))})
    assert answer.status_code == 403
    assert "not a member of proposal 'bio'" in html.unescape(answer.text)
    assert api.job_rows() == 0


def test_submit_then_the_jobs_page_lists_it(api: Api) -> None:
    client = _client(api)
    csrf = log_in(client, api.secrets["alice"])
    answer = client.post(
        "/ui/submit", data={"csrf": csrf, "job": yaml.safe_dump(job_body())}, follow_redirects=False
    )
    assert answer.status_code == 303
    job = answer.headers["location"].rsplit("/", 1)[1]
    listing = client.get("/ui/")
    assert f'href="/ui/jobs/{job}"' in listing.text
    assert f'data-live="{job}"' in listing.text


def test_forms_are_url_encoded_and_bounded(api: Api) -> None:
    client = _client(api)
    csrf = log_in(client, api.secrets["alice"])
    as_json = client.post("/ui/submit", json={"csrf": csrf, "job": "x"})
    assert as_json.status_code == 403  # not a form: it carries no CSRF token either
    huge = client.post(
        "/ui/submit", data={"csrf": csrf, "job": "x" * (api.settings.limits.body_bytes + 1)}
    )
    assert huge.status_code == 413
    assert client.get("/ui/no-such-page").status_code == 404
    assert client.get("/ui/events?jobs=bad%20id").status_code == 422


def test_hostile_forms_get_a_clear_refusal(api: Api) -> None:
    client = _client(api)
    csrf = log_in(client, api.secrets["erin"])
    many = "&".join([f"csrf={csrf}", *(f"f{i}=x" for i in range(500))])
    flood = client.post(
        "/ui/submit",
        content=many.encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert flood.status_code == 422 and "at most 20 fields" in flood.text
    nul = client.post(
        "/ui/policy", data={"csrf": csrf, "text": "x", "action": "apply", "reason": "a\nb\x00"}
    )
    assert nul.status_code == 422 and "reason: line 2 holds a control character" in nul.text
    in_job = client.post("/ui/submit", data={"csrf": csrf, "job": "proposal: chem\nname: a\x00"})
    assert in_job.status_code == 422 and "name: a" in in_job.text  # the text stays in the box
    assert api.job_rows() == 0
