"""config/images.toml and runner.images: names to pinned tags, dependency order, and
building a small image chain with the real engine."""

from __future__ import annotations

import json
import uuid

import pytest

from runner import images
from runner.errors import ConfigError, UnknownNameError


def write(tmp_path, text: str):
    path = tmp_path / "images.toml"
    path.write_text(text)
    return path


def test_the_repository_table_is_valid_and_pinned():
    specs = images.load_config()
    assert specs["toolbox"].tag == "codingagentbench/toolbox:0.1.0"
    for spec in specs.values():
        assert not spec.tag.endswith(":latest")


def test_resolve_names_and_tags():
    assert images.resolve("toolbox") == "codingagentbench/toolbox:0.1.0"
    assert images.resolve("debian:bookworm-slim") == "debian:bookworm-slim"
    with pytest.raises(UnknownNameError, match="toolbox"):
        images.resolve("no-such-image-name")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('[images.a]\ntag = "x/a:latest"\ndockerfile = "images/toolbox"\n', "images.a.tag"),
        ('[images.a]\ntag = "x/a"\ndockerfile = "images/toolbox"\n', "images.a.tag"),
        (
            '[images.a]\ntag = "x/a:1"\ndockerfile = "images/toolbox"\ndepends_on = ["b"]\n',
            "images.a.depends_on",
        ),
        ('[images.a]\ntag = "x/a:1"\ndockerfile = "images/toolbox"\nextra = 1\n', "images.a.extra"),
        ("[images]\n", "images"),
        ("not toml [", "-"),
    ],
)
def test_bad_tables_name_the_file_and_field(tmp_path, body, field):
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        images.load_config(path)
    assert info.value.field == field
    assert str(path) in str(info.value)


def test_cycles_are_refused(tmp_path):
    path = write(
        tmp_path,
        '[images.a]\ntag = "x/a:1"\ndockerfile = "images/toolbox"\ndepends_on = ["b"]\n'
        '[images.b]\ntag = "x/b:1"\ndockerfile = "images/toolbox"\ndepends_on = ["a"]\n',
    )
    with pytest.raises(ConfigError, match="cycle"):
        images.load_config(path)


def test_build_order_puts_dependencies_first():
    specs = {
        "agent": images.ImageSpec(tag="x/agent:1", dockerfile="d", depends_on=["mid"]),
        "mid": images.ImageSpec(tag="x/mid:1", dockerfile="d", depends_on=["base"]),
        "base": images.ImageSpec(tag="x/base:1", dockerfile="d"),
    }
    assert images.build_order(["agent"], specs) == ["base", "mid", "agent"]
    assert images.build_order(["base", "agent"], specs) == ["base", "mid", "agent"]


@pytest.mark.docker
def test_build_a_chain_records_ids_and_skips_what_exists(docker_client, tmp_path, monkeypatch):
    monkeypatch.setenv("CAB_RUNS_DIR", str(tmp_path / "runs"))
    ver = uuid.uuid4().hex[:10]
    base_tag, child_tag = f"cab-test/base:{ver}", f"cab-test/child:{ver}"
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "Dockerfile").write_text(
        "FROM debian:bookworm-slim\nRUN echo base > /base.txt\n"
        "COPY build-ca.cr[t] /ca/\nRUN grep -q cab-test-ca-marker /ca/build-ca.crt\n"
    )
    ca = tmp_path / "ca.crt"  # the host bundle a TLS-intercepted pip/npm would need
    ca.write_text("cab-test-ca-marker\n")
    monkeypatch.setenv("CAB_BUILD_CA_BUNDLE", str(ca))
    (tmp_path / "child").mkdir()
    (tmp_path / "child" / "Dockerfile").write_text(f"FROM {base_tag}\nRUN cat /base.txt\n")
    specs = {
        "child": images.ImageSpec(
            tag=child_tag, dockerfile=str(tmp_path / "child"), depends_on=["base"]
        ),
        "base": images.ImageSpec(tag=base_tag, dockerfile=str(tmp_path / "base")),
    }
    lines: list[str] = []
    try:
        out = images.build(["child"], specs=specs, emit=lines.append)
        assert list(out) == [base_tag, child_tag]
        assert out[child_tag] == docker_client.images.get(child_tag).id
        assert out[child_tag].startswith("sha256:")
        assert images.digest(child_tag) == out[child_tag]
        assert any("building " + base_tag in line for line in lines)
        recorded = json.loads((tmp_path / "runs" / "images.json").read_text())
        assert recorded[child_tag]["id"] == out[child_tag]
        assert recorded[child_tag]["built_now"] is True

        lines.clear()
        again = images.build(["child"], specs=specs, emit=lines.append)
        assert again == out
        assert not any("building" in line for line in lines)
        assert (
            json.loads((tmp_path / "runs" / "images.json").read_text())[child_tag]["built_now"]
            is False
        )
    finally:
        for tag in (child_tag, base_tag):
            if images.digest(tag):
                docker_client.images.remove(tag, force=True)
    assert images.digest(child_tag) is None
    assert not (tmp_path / "base" / "build-ca.crt").exists()  # the source folder stays clean


@pytest.mark.docker
def test_a_failing_build_raises_with_the_output(docker_client, tmp_path):
    (tmp_path / "Dockerfile").write_text(
        "FROM debian:bookworm-slim\nRUN echo boom-marker; exit 7\n"
    )
    tag = f"cab-test/broken:{uuid.uuid4().hex[:10]}"
    specs = {"broken": images.ImageSpec(tag=tag, dockerfile=str(tmp_path))}
    with pytest.raises(images.ImageError) as info:
        images.build(specs=specs, emit=lambda _t: None)
    assert tag in str(info.value) and "boom-marker" in str(info.value)
    assert images.digest(tag) is None


@pytest.mark.docker
def test_a_missing_base_image_is_named_not_pulled(docker_client, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM cab-test/absent-base:0.0.0\nRUN true\n")
    tag = f"cab-test/orphan:{uuid.uuid4().hex[:10]}"
    specs = {"orphan": images.ImageSpec(tag=tag, dockerfile=str(tmp_path))}
    with pytest.raises(images.ImageError, match=r"cab-test/absent-base:0\.0\.0.*cannot be pulled"):
        images.build(specs=specs, emit=lambda _t: None)
    assert images.digest(tag) is None


def test_the_missing_debian_base_message_says_how_to_make_it():
    assert "debootstrap --variant=minbase bookworm" in images.MAKE_BASE_HINT
    assert "docker import - debian:bookworm-slim" in images.MAKE_BASE_HINT


def test_base_images_skip_stages_args_and_scratch(tmp_path):
    (tmp_path / "Dockerfile").write_text(
        "ARG V=1\nFROM debian:bookworm-slim AS build\nRUN true\n"
        "FROM --platform=linux/amd64 codingagentbench/toolbox:0.1.0\nCOPY --from=build / /x\n"
        "FROM build\nFROM ${V}\nFROM scratch\n"
    )
    assert images._base_images(tmp_path) == [
        "debian:bookworm-slim",
        "codingagentbench/toolbox:0.1.0",
    ]


@pytest.mark.docker
def test_a_missing_dockerfile_fails_only_that_build(docker_client, tmp_path):
    tag = f"cab-test/nowhere:{uuid.uuid4().hex[:10]}"
    specs = {"nowhere": images.ImageSpec(tag=tag, dockerfile=str(tmp_path / "nowhere"))}
    with pytest.raises(images.ImageError, match="no Dockerfile"):
        images.build(specs=specs, emit=lambda _t: None)


@pytest.mark.docker
def test_parallel_build_keeps_dependency_order_and_builds_past_a_failure(
    docker_client, tmp_path, monkeypatch
):
    monkeypatch.setenv("CAB_RUNS_DIR", str(tmp_path / "runs"))
    ver = uuid.uuid4().hex[:10]
    tags = {n: f"cab-test/{n}:{ver}" for n in ("base", "child", "other", "broken", "orphan")}
    files = {
        "base": "FROM debian:bookworm-slim\nRUN echo base > /base.txt\n",
        "child": f"FROM {tags['base']}\nRUN cat /base.txt\n",
        "other": "FROM debian:bookworm-slim\nRUN echo other\n",
        "broken": "FROM debian:bookworm-slim\nRUN echo boom-marker; exit 7\n",
        "orphan": f"FROM {tags['broken']}\nRUN true\n",
    }
    deps = {"child": ["base"], "orphan": ["broken"]}
    specs = {}
    for name, text in files.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "Dockerfile").write_text(text)
        specs[name] = images.ImageSpec(
            tag=tags[name], dockerfile=str(tmp_path / name), depends_on=deps.get(name, [])
        )
    lines: list[str] = []
    try:
        with pytest.raises(images.ImageError) as info:
            images.build(specs=specs, emit=lines.append, jobs=3)
        assert "boom-marker" in str(info.value)
        assert f"{tags['orphan']}: not built, its base broken failed" in str(info.value)
        for name in ("base", "child", "other"):  # built despite the failure beside them
            assert images.digest(tags[name]) is not None, name
        assert images.digest(tags["broken"]) is None and images.digest(tags["orphan"]) is None
        assert any(line.startswith("[child] == child: building") for line in lines)
        recorded = json.loads((tmp_path / "runs" / "images.json").read_text())
        assert {tags["base"], tags["child"], tags["other"]} <= set(recorded)
    finally:
        for tag in (tags["child"], tags["base"], tags["other"]):
            if images.digest(tag):
                docker_client.images.remove(tag, force=True)
