"""The pure parts of ``pipeline-py jenkins``: templates, the config comparison and merge, URLs."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from pipeline_py.errors import BadInput
from pipeline_py.jenkins.client import branch_item_name, connection, job_url_path
from pipeline_py.jenkins.sync import covers, desired_items, merged, source_for
from tests.fake_jenkins import reserialise


def items(**kw: object) -> list:
    args = {"folder": "apps", "service": "task-api", "repo_url": "https://github.com/acme/task-api.git",
            "library_name": "pipeline-py", "library_version": "v1",
            "library_repo": "https://git.example.com/pipeline-py.git", "credentials_id": "gh"}
    return desired_items(**{**args, **kw})


@pytest.mark.parametrize(("url", "owner", "repo"), [
    ("https://github.com/acme/task-api.git", "acme", "task-api"),
    ("https://github.com/acme/task-api", "acme", "task-api"),
    ("git@github.com:acme/task.api.git", "acme", "task.api"),
])
def test_github_repositories_get_the_github_branch_source(url: str, owner: str, repo: str) -> None:
    s = source_for(url, "svc", None)
    assert s["github"] and (s["owner"], s["repository"]) == (owner, repo)
    assert s["url"] == f"https://github.com/{owner}/{repo}"


def test_other_repositories_get_the_git_source() -> None:
    s = source_for("https://gitlab.example.com/acme/task-api.git", "svc", "cred")
    assert not s["github"] and s["url"] == "https://gitlab.example.com/acme/task-api.git"


def test_rendered_configs_are_xml_with_the_values_escaped() -> None:
    folder, job = items(repo_url="https://git.example.com/r.git?a=1&b=<2>", credentials_id='x"&y')
    assert (folder.name, folder.kind, job.name, job.kind) == ("apps", "folder", "apps/task-api", "multibranch")
    f = ET.fromstring(folder.xml.encode())
    lib = f.find("properties/org.jenkinsci.plugins.workflow.libs.FolderLibraries/libraries/"
                 "org.jenkinsci.plugins.workflow.libs.LibraryConfiguration")
    assert lib.findtext("name") == "pipeline-py" and lib.findtext("defaultVersion") == "v1"
    assert lib.findtext("retriever/scm/credentialsId") == 'x"&y'
    j = ET.fromstring(job.xml.encode())
    assert j.findtext("sources/data/jenkins.branch.BranchSource/source/remote") == "https://git.example.com/r.git?a=1&b=<2>"
    assert j.findtext("factory/scriptPath") == "Jenkinsfile"
    assert j.findtext("orphanedItemStrategy/pruneDeadBranches") == "true"


def test_the_github_source_discovers_pull_requests_and_trusts_only_writers() -> None:
    (_, job) = items()
    root = ET.fromstring(job.xml.encode())
    traits = root.find("sources/data/jenkins.branch.BranchSource/source/traits")
    names = [t.tag.rsplit(".", 1)[-1] for t in traits]
    assert names == ["BranchDiscoveryTrait", "OriginPullRequestDiscoveryTrait", "ForkPullRequestDiscoveryTrait",
                     "TagDiscoveryTrait"]
    trust = traits.find("org.jenkinsci.plugins.github__branch__source.ForkPullRequestDiscoveryTrait/trust")
    assert trust.get("class").endswith("$TrustPermission")


def test_nested_folders_get_parents_and_the_library_only_on_the_innermost() -> None:
    got = items(folder="/teams/payments/")
    assert [i.name for i in got] == ["teams", "teams/payments", "teams/payments/task-api"]
    assert "FolderLibraries" not in got[0].xml and "FolderLibraries" in got[1].xml


def test_without_a_library_repository_the_folder_has_no_library() -> None:
    assert "FolderLibraries" not in items(library_repo=None)[0].xml


@pytest.mark.parametrize(("kw", "message"), [
    ({"folder": ""}, "jenkins sync needs a folder"),
    ({"folder": "apps/../x"}, "'..' is not a valid Jenkins item name"),
    ({"service": "task api"}, "'task api' is not a valid Jenkins item name"),
])
def test_bad_names_are_refused(kw: dict, message: str) -> None:
    with pytest.raises(BadInput, match=message):
        items(**kw)


def test_a_config_jenkins_rewrote_still_covers_what_we_rendered() -> None:
    for item in items():
        _cls, saved = reserialise(item.xml)
        assert saved != item.xml and 'plugin="' in saved
        assert covers(ET.fromstring(saved.encode()), ET.fromstring(item.xml.encode()))


def test_covers_notices_changed_missing_and_reordered_values() -> None:
    want = ET.fromstring("<a><b>1</b><c x='1'><d>2</d><d>3</d></c></a>")
    assert covers(ET.fromstring("<a plugin='p@1'><z/><b> 1 </b><c x='1' plugin='q'><d>2</d><d>3</d><e/></c></a>"), want)
    assert not covers(ET.fromstring("<a><b>2</b><c x='1'><d>2</d><d>3</d></c></a>"), want)
    assert not covers(ET.fromstring("<a><b>1</b><c x='2'><d>2</d><d>3</d></c></a>"), want)
    assert not covers(ET.fromstring("<a><b>1</b><c x='1'><d>3</d><d>2</d></c></a>"), want)
    assert not covers(ET.fromstring("<a><b>1</b><c x='1'><d>2</d></c></a>"), want)


def test_merge_swaps_in_managed_elements_and_keeps_foreign_ones() -> None:
    actual = ("<?xml version='1.1' encoding='UTF-8'?><f plugin='x'><actions/><description>old</description>"
              "<properties><creds><secret>kept</secret></creds><lib><v>1</v></lib></properties><icon/></f>")
    want = "<f><description>new</description><properties><lib><v>2</v></lib></properties></f>"
    out = merged(actual, want)
    root = ET.fromstring(out.encode())
    assert out.startswith("<?xml version='1.1'")
    assert root.findtext("description") == "new" and root.findtext("properties/lib/v") == "2"
    assert root.findtext("properties/creds/secret") == "kept"
    assert [c.tag for c in root] == ["actions", "description", "properties", "icon"]
    assert covers(root, ET.fromstring(want))


def test_job_urls_encode_each_name_and_branches_are_named_like_multibranch_does() -> None:
    assert branch_item_name("feature/login") == "feature%2Flogin"
    assert job_url_path("apps/task-api/feature%2Flogin") == "job/apps/job/task-api/job/feature%252Flogin/"
    assert job_url_path("a b") == "job/a%20b/"


def test_connection_precedence_and_errors() -> None:
    env = {"JENKINS_URL": "https://ci.example.com", "JENKINS_USER": "bot", "JENKINS_API_TOKEN": "t0ken"}
    c = connection(None, "config-user", env)
    assert (c.url, c.user, c.token) == ("https://ci.example.com/", "bot", "t0ken")
    assert connection("http://other:8080/jenkins", None, env).url == "http://other:8080/jenkins/"
    assert connection(None, "config-user", {**env, "JENKINS_USER": ""}).user == "config-user"
    assert connection(None, None, {"JENKINS_URL": "http://x"}).user is None
    with pytest.raises(BadInput, match="no Jenkins URL"):
        connection(None, None, {})
    with pytest.raises(BadInput, match="must start with http"):
        connection("ci.example.com", None, {})
    with pytest.raises(BadInput, match="JENKINS_API_TOKEN is not set"):
        connection(None, "bot", {"JENKINS_URL": "http://x"})
    with pytest.raises(BadInput, match="no user"):
        connection(None, None, {"JENKINS_URL": "http://x", "JENKINS_API_TOKEN": "t"})
