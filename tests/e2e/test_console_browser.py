"""The web console in a real browser: Debian's Chromium, driven by Playwright, against a
live service (PostgreSQL, Redis, the API, the scheduler and a worker, as child
processes).

Each role logs in with its token and sees exactly what its token could read from the API;
a job is submitted from the page and followed to COMPLETED without a reload; one is
cancelled; a job file with two mistakes shows both at their lines; a POST without the
session's CSRF token is refused; a revoked token's session ends; every page passes axe-core
with no serious or critical violation. Screenshots of each page go to the test's folder,
and to ``QCB_CONSOLE_SHOTS`` when it is set (``docs/console/`` holds the ones in the docs).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from broker.service import tokens
from broker.store.db import Database
from tests.conftest import EXAMPLES, reachable
from tests.harness.stack import LocalStack
from tests.unit.broker.api.conftest import POLICY, USERS

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(os.environ.get("QCB_AXE_DIR", "/var/cache/qcb-axe/4.11.0"))
AXE_JS = AXE / "node_modules" / "axe-core" / "axe.min.js"
WAIT_MS = 180_000


def small_job(proposal: str, maxiter: int = 4) -> str:
    """The H2 VQE example as job-file text, under ``proposal``, for ``maxiter`` steps."""
    job: dict[str, Any] = yaml.safe_load((EXAMPLES / "vqe_h2.yaml").read_text())
    job["proposal"] = proposal
    job["algorithm"]["inputs"]["optimizer"]["maxiter"] = maxiter
    job["algorithm"]["inputs"]["reference"] = False
    return yaml.safe_dump(job, sort_keys=False)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The service, with the API tests' policy (chem: PI carol; bio: PI dave)."""
    missing = [str(p) for p in (CHROMIUM, AXE_JS) if not p.exists()]
    assert not missing, f"{missing} missing: run docker/install-browser.sh (make services)"
    workdir = reachable(tmp_path_factory.mktemp("console"))
    (workdir / "policy.yaml").write_text(POLICY)
    settings = {"policy_file": str(workdir / "policy.yaml")}
    with LocalStack(workdir, workers=1, settings=settings) as running:
        for user, role in USERS.items():
            running.token(user, role)
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless (as root it needs --no-sandbox)."""
    with sync_playwright() as p:
        found = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield found
        found.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go."""
    return Path(os.environ.get("QCB_CONSOLE_SHOTS") or tmp_path_factory.mktemp("shots"))


def login(browser: Browser, stack: LocalStack, user: str, **options: Any) -> Page:
    """A new browser context logged in as ``user`` (its own cookies), on the jobs page."""
    context: BrowserContext = browser.new_context(base_url=stack.url, **options)
    page = context.new_page()
    page.goto("/ui/")
    expect(page).to_have_url(re.compile(r"/ui/login"))
    page.get_by_label("Your token").fill(stack.tokens[user])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Jobs", exact=True)).to_be_visible()
    return page


def shot(page: Page, folder: Path, name: str) -> None:
    """A screenshot of the whole page."""
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page, as 'id: description (n)'."""
    page.add_script_tag(path=str(AXE_JS))
    found: list[dict[str, Any]] = page.evaluate("async () => (await axe.run()).violations")
    return [
        f"{v['id']}: {v['description']} ({len(v['nodes'])} nodes)"
        for v in found
        if v.get("impact") in ("serious", "critical")
    ]


def test_each_role_sees_exactly_its_jobs(stack: LocalStack, browser: Browser) -> None:
    """alice sees her job, not bob's, whose page answers as a job that does not exist;
    carol (PI of chem) sees alice's; erin (committee) sees neither (committees read usage
    and the queue, not jobs, as in the API); root (admin) sees both."""
    mine = stack.client("alice").submit(yaml.safe_load(small_job("chem", 2)))
    theirs = stack.client("bob").submit(yaml.safe_load(small_job("bio", 2)))
    seen = {}
    for user in ("alice", "carol", "erin", "root", "bob"):
        page = login(browser, stack, user)
        rows = page.locator("#job-rows")
        seen[user] = (rows.get_by_text(mine).count(), rows.get_by_text(theirs).count())
        page.context.close()
    assert seen == {
        "alice": (1, 0),
        "carol": (1, 0),
        "erin": (0, 0),
        "root": (1, 1),
        "bob": (0, 1),
    }

    page = login(browser, stack, "alice")
    answers = {}
    for ident in (theirs, "j-000000000000"):
        response = page.goto(f"/ui/jobs/{ident}")
        assert response is not None
        answers[ident] = (response.status, page.locator("main").inner_text())
    assert answers[theirs] == answers["j-000000000000"]
    assert answers[theirs][0] == 404
    assert theirs not in answers[theirs][1]
    page.context.close()


def test_submit_and_follow_to_completed_without_reload(
    stack: LocalStack, browser: Browser, shots: Path
) -> None:
    """A job file pasted in the page is submitted; its page follows it to COMPLETED by the
    event stream alone (no navigation), then shows its convergence plot and charges."""
    page = login(browser, stack, "alice")
    page.get_by_role("link", name="Submit a job").click()
    shot(page, shots, "submit")
    page.get_by_label("Job file (YAML)").fill(small_job("chem", 6))
    page.get_by_role("button", name="Check and submit").click()
    expect(page).to_have_url(re.compile(r"/ui/jobs/j-"))
    job_id = page.url.rsplit("/", 1)[1]
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    page.evaluate("window.qcbMark = 'same page'")
    expect(page.locator("#job-state")).to_have_text("COMPLETED", timeout=WAIT_MS)
    assert page.evaluate("window.qcbMark") == "same page"
    assert navigations == []
    expect(page.get_by_role("figure", name=re.compile("Convergence"))).to_be_visible()
    expect(page.get_by_role("heading", name="Charges")).to_be_visible()
    assert page.locator("#cancel-form").count() == 0
    shot(page, shots, "job")
    assert stack.client("alice").status(job_id).state.value == "COMPLETED"


def test_cancel_from_the_page(stack: LocalStack, browser: Browser) -> None:
    """A job is cancelled with the page's button (after the confirmation); it is held
    first, so that it cannot end by itself before the click."""
    job = stack.client("alice").submit(yaml.safe_load(small_job("chem", 300)))
    stack.client("alice").hold(job)
    page = login(browser, stack, "alice")
    page.goto(f"/ui/jobs/{job}")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel this job").click()
    expect(page.locator("#job-state")).to_have_text("CANCELLED", timeout=WAIT_MS)
    assert stack.client("alice").status(job).state.value == "CANCELLED"


def test_post_without_csrf_token_is_refused(stack: LocalStack, browser: Browser) -> None:
    """The session's cookie alone does not make a change: 403, and the (held) job is not
    cancelled."""
    job = stack.client("alice").submit(yaml.safe_load(small_job("chem", 300)))
    stack.client("alice").hold(job)
    page = login(browser, stack, "alice")
    refused = page.request.post(f"/ui/jobs/{job}/cancel", form={"csrf": "forged"})
    bare = page.request.post(f"/ui/jobs/{job}/cancel", form={})
    assert (refused.status, bare.status) == (403, 403)
    assert not stack.client("alice").status(job).state.final
    stack.client("alice").cancel(job)


def test_job_file_mistakes_shown_at_their_lines(
    stack: LocalStack, browser: Browser, shots: Path
) -> None:
    """Two mistakes, both listed with their lines and marked in the listing; the text stays
    in the box; once fixed, the job is submitted."""
    good = small_job("chem", 2)
    bad = good.replace("name: vqe", "name: vqee").replace("seed: 42", "seed: -x")
    lines = bad.splitlines()
    expected = {lines.index(x) + 1 for x in lines if "vqee" in x or "seed: -x" in x}
    page = login(browser, stack, "alice")
    page.goto("/ui/submit")
    page.get_by_label("Job file (YAML)").fill(bad)
    page.get_by_role("button", name="Check and submit").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("2 problems")
    marked = {int(x.split("-")[1]) for x in page.locator("li.bad").evaluate_all(
        "items => items.map(i => i.id)")}  # fmt: skip
    assert marked == expected
    assert page.get_by_label("Job file (YAML)").input_value().strip() == bad.strip()
    shot(page, shots, "submit-errors")
    page.get_by_label("Job file (YAML)").fill(good)
    page.get_by_role("button", name="Check and submit").click()
    expect(page).to_have_url(re.compile(r"/ui/jobs/j-"))


def test_revoked_token_ends_its_session_and_logout(stack: LocalStack, browser: Browser) -> None:
    """A session stands on its token: revoked, the next page asks to log in again; and
    after logout the cookie opens nothing."""
    db = Database(stack.database_url)
    token_id, secret = tokens.create(db, user="alice", role="researcher", created_by="test")
    context = browser.new_context(base_url=stack.url)
    page = context.new_page()
    page.goto("/ui/login")
    page.get_by_label("Your token").fill(secret)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Jobs", exact=True)).to_be_visible()
    tokens.revoke(db, token_id, by="test")
    db.dispose()
    page.goto("/ui/submit")
    expect(page).to_have_url(re.compile(r"/ui/login\?next=/ui/submit&expired=1"))
    expect(page.get_by_role("status")).to_contain_text("Your session ended")
    context.close()

    page = login(browser, stack, "bob")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("status")).to_contain_text("logged out")
    page.goto("/ui/")
    expect(page).to_have_url(re.compile(r"/ui/login"))
    page.context.close()


def test_every_page_passes_axe(stack: LocalStack, browser: Browser, shots: Path) -> None:
    """No serious or critical axe-core violation on any page (CSP bypassed only to load
    axe itself), logged out and logged in."""
    carol = stack.client("carol")
    job = carol.submit(yaml.safe_load(small_job("chem", 2)))
    carol.wait(job, timeout=WAIT_MS / 1000)
    first = carol.submit(yaml.safe_load(small_job("chem", 300)))
    carol.hold(first)
    waiting = carol.submit(
        {**yaml.safe_load(small_job("chem", 2)), "dependency": f"afterok:{first}"}
    )
    context = browser.new_context(base_url=stack.url, bypass_csp=True)
    page = context.new_page()
    page.goto("/ui/login")
    found = {"login": serious_violations(page)}
    shot(page, shots, "login")
    page.get_by_label("Your token").fill(stack.tokens["carol"])
    page.get_by_role("button", name="Log in").click()
    pages = {
        "jobs": "/ui/",
        "job-done": f"/ui/jobs/{job}",
        "form": "/ui/submit",
        "usage": "/ui/usage",
        "fairshare": "/ui/fairshare",
        "queue": "/ui/queue",
        "explain": f"/ui/explain/{waiting}",
    }
    for name, path in pages.items():
        page.goto(path)
        found[name] = serious_violations(page)
        if name == "explain":
            expect(page.get_by_role("heading", name=re.compile("Reasons"))).to_be_visible()
        if name in ("jobs", "usage", "fairshare", "queue", "explain"):
            if name == "usage":
                page.get_by_text("Burn-down plots").first.click()
            shot(page, shots, name)
    page.goto("/ui/jobs/j-000000000000")
    found["not-found"] = serious_violations(page)
    context.close()
    carol.cancel(waiting)
    carol.cancel(first)
    page = login(browser, stack, "root", bypass_csp=True)
    page.goto("/ui/audit?action=console-login")
    found["audit"] = serious_violations(page)
    shot(page, shots, "audit")
    page.context.close()
    assert found == {name: [] for name in found}


def test_committee_edits_checks_replays_and_applies_a_policy(
    stack: LocalStack, browser: Browser, shots: Path, tmp_path: Path
) -> None:
    """erin (committee) uploads a policy with two mistakes, sees both at their lines,
    fixes them, replays the recent workload under it, applies it with a reason, and finds
    the revision and its diff in the history; alice (researcher) cannot open the page."""
    done = stack.client("alice").submit(yaml.safe_load(small_job("chem", 2)))
    stack.client("alice").wait(done, timeout=WAIT_MS / 1000)  # a workload to replay
    page = login(browser, stack, "erin", bypass_csp=True)
    page.get_by_role("link", name="Policy").click()
    editor = page.get_by_label("Policy (YAML)")
    text = editor.input_value()
    fixed = text.replace('revision: "1"', 'revision: "2"').replace("amount: 2}", "amount: 5}")
    broken = fixed.replace("pi: dave", "pi: dave\n    colour: red").replace(
        "  - id: tiny", "  - id: tiny\n    shares: -1"
    )
    lines = broken.splitlines()
    expected = {i + 1 for i, x in enumerate(lines) if "colour" in x or "shares: -1" in x}
    assert len(expected) == 2
    upload = tmp_path / "edited.yaml"
    upload.write_text(broken)
    page.get_by_label("Or load a policy file into the box").set_input_files(str(upload))
    expect(editor).to_have_value(broken)
    page.get_by_role("button", name="Check").click()
    expect(page.get_by_role("alert")).to_contain_text("2 errors")
    marked = page.locator("li.bad").evaluate_all("items => items.map(i => +i.id.split('-')[1])")
    assert set(marked) == expected
    assert serious_violations(page) == []
    shot(page, shots, "policy-errors")

    page.get_by_label("Policy (YAML)").fill(fixed)
    page.get_by_role("button", name="What if").click()
    expect(page.locator("#policy-valid")).to_contain_text("Valid: revision api-test@2+")
    expect(page.locator("#policy-valid")).to_contain_text("amount 2 -> 5")
    expect(page.get_by_role("heading", name=re.compile("What if"))).to_be_visible()
    expect(page.locator("#what-if tbody").get_by_role("rowheader", name="chem")).to_be_visible()
    assert serious_violations(page) == []
    shot(page, shots, "policy-what-if")

    page.get_by_label("Reason (for apply)").fill("tiny gets 5 evaluations")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("status")).to_contain_text("Revision 2 is in force now")
    newest = page.locator("#history tbody tr").first
    expect(newest).to_contain_text("tiny gets 5 evaluations")
    newest.get_by_text("Diff").click()
    expect(newest.locator("pre")).to_contain_text("amount 2 -> 5")
    assert stack.client("erin").policy().revision.startswith("api-test@2+")
    shot(page, shots, "policy")
    page.context.close()

    page = login(browser, stack, "alice")
    assert page.get_by_role("link", name="Policy").count() == 0
    response = page.goto("/ui/policy")
    assert response is not None and response.status == 403
    page.context.close()
