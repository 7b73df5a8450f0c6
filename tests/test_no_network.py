"""Nothing reaches the network unless asked: generate, a smoke train and evaluate, each with
W&B on and ``WANDB_MODE`` unset, while every socket connect or DNS lookup outside loopback
raises (and is recorded, since W&B's telemetry runs on threads that swallow errors)."""

from __future__ import annotations

import errno
import socket
import sys
import threading

import pytest
import soundfile as sf
from conftest import SR, tone
from test_evaluate import QUICK
from test_generate import FAST, make_export

from pianodiff.training.run import compose_train_config, train

LOOPBACK = ("localhost", "127.0.0.1", "::1", "0.0.0.0", "")


def _outside(host) -> bool:
    if host is None:
        return False
    name = host.decode() if isinstance(host, bytes) else str(host)
    return name not in LOOPBACK and not name.startswith("127.")


@pytest.fixture
def no_network(monkeypatch) -> list[str]:
    """Block and record every outside connect/sendto/DNS lookup; a fresh W&B state."""
    import wandb
    from wandb.analytics.opentelemetry import opentelemetry_proxy

    attempts: list[str] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_sendto, real_getaddrinfo = socket.socket.sendto, socket.getaddrinfo

    def blocked(what: str):
        attempts.append(f"{what} ({threading.current_thread().name})")
        return OSError(errno.ENETUNREACH, f"network blocked in tests: {what}")

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and _outside(address[0]):
            raise blocked(f"connect {address}")
        return real_connect(self, address)

    def connect_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and _outside(address[0]):
            raise blocked(f"connect_ex {address}")
        return real_connect_ex(self, address)

    def sendto(self, data, *args):
        address = args[-1]
        if self.family in (socket.AF_INET, socket.AF_INET6) and _outside(address[0]):
            raise blocked(f"sendto {address}")
        return real_sendto(self, data, *args)

    def getaddrinfo(host, *args, **kwargs):
        if _outside(host):
            attempts.append(f"getaddrinfo {host} ({threading.current_thread().name})")
            raise socket.gaierror(socket.EAI_NONAME, f"DNS blocked in tests: {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    def gethostbyname(host):
        if _outside(host):
            raise blocked(f"gethostbyname {host}")
        return "127.0.0.1"

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket.socket, "sendto", sendto)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "gethostbyname", gethostbyname)
    monkeypatch.setattr(socket, "gethostbyname_ex", lambda h: (_ for _ in ()).throw(blocked(h)))
    # As a fresh process would start: no W&B mode in the environment, telemetry not yet
    # disabled by an earlier test, no W&B settings cached from one.
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_ERROR_REPORTING", raising=False)
    monkeypatch.setattr(opentelemetry_proxy, "_disabled", threading.Event())
    monkeypatch.setattr(opentelemetry_proxy, "_singleton_telemetry_proxy", None)
    monkeypatch.setattr(opentelemetry_proxy, "_singleton_telemetry_recorder", None)
    wandb.teardown()
    yield attempts
    wandb.teardown()


def test_generate_train_and_evaluate_with_wandb_stay_offline(no_network, tmp_path, monkeypatch):
    import wandb

    from pianodiff.evaluate import main as evaluate_main
    from pianodiff.generate import main as generate_main

    ckpt = make_export(tmp_path / "ckpt")
    cwd = tmp_path / "cwd"
    (cwd / "eval").mkdir(parents=True)
    for i, freqs in enumerate([(220.0, 277.2), (261.6, 329.6)]):
        sf.write(cwd / "eval" / f"{i}.wav", tone(2.0, freqs), SR)
    monkeypatch.chdir(cwd)

    args = [f"checkpoint={ckpt}", "seconds=0.2", "output=g.wav", "wandb.enabled=true"]
    monkeypatch.setattr(sys, "argv", ["generate", *FAST, *args])
    generate_main()
    assert (cwd / "g.wav").is_file() and list((cwd / "wandb").glob("offline-run-*"))

    cfg = compose_train_config(
        ["experiment=smoke", "data=folder", f"data.root={cwd / 'eval'}", "data.segment_seconds=0.1",
         "data.batch_size=2", "trainer.max_steps=2", "logger=wandb", "callbacks.demo_sampling=null",
         f"paths.run_dir={tmp_path / 'run'}"]
    )  # fmt: skip
    assert train(cfg)["global_step"] == 2
    assert list((tmp_path / "run" / "wandb").glob("offline-run-*"))

    monkeypatch.setattr(
        sys, "argv",
        ["evaluate", f"checkpoint={ckpt}", "data_dir=eval", "extension.enabled=false",
         "wandb.enabled=true", "hydra.run.dir=ev", *QUICK],
    )  # fmt: skip
    evaluate_main()
    assert list((cwd / "ev" / "wandb").glob("offline-run-*"))

    wandb.teardown()  # let W&B's threads and service finish what they would send
    flush_telemetry()
    assert no_network == []


def flush_telemetry() -> None:
    """Shut W&B's telemetry down now (it would at exit, outside the guard): a live one
    sends its metrics, and probes the server, here."""
    from wandb.analytics.opentelemetry import opentelemetry_proxy

    proxy = opentelemetry_proxy._singleton_telemetry_proxy
    if proxy is not None:
        proxy.shutdown(timeout_millis=10_000)
