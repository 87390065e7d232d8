"""Typed application keys shared by the app factory and its handlers."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from proxy.config import ProxyConfig
from proxy.governor_send import Gate
from proxy.lifecycle import Lifecycle
from proxy.metrics import Metrics
from proxy.recorder import Recorder
from proxy.sessions import SessionStore

APP_CONFIG = web.AppKey("config", ProxyConfig)
APP_STORE = web.AppKey("store", SessionStore)
APP_RECORDER = web.AppKey("recorder", Recorder)
APP_METRICS = web.AppKey("metrics", Metrics)
APP_CLIENT = web.AppKey("client", aiohttp.ClientSession)
APP_GATE = web.AppKey("gate", Gate)
APP_LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
