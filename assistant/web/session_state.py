"""Gradio's per-session state, with each component's config built when first asked for.

Gradio 6.31 builds the config of every component on a session's first event (kept for
deep links): about 7 ms for this page's 140 blocks, paid by each new visitor's first
message. Here each one is built on first use, from the same block, so every value
read is the one Gradio would have built.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Iterator

import gradio as gr
from gradio.state_holder import SessionState, StateHolder


class _Configs(dict[int, Any]):
    def __init__(self, blocks_config: Any, keys: dict[int, None]) -> None:
        super().__init__()
        self._blocks_config = blocks_config
        self._keys = keys
        self._values: dict[int, Any] = {}

    def __missing__(self, key: int) -> Any:
        if key not in self._keys:
            raise KeyError(key)
        config = self._blocks_config.config_for_block(key, [], self._blocks_config.blocks[key])
        if key in self._values and "props" in config:
            config["props"]["value"] = self._values[key]
        self[key] = config
        return config

    def __setitem__(self, key: int, config: Any) -> None:
        self._values.pop(key, None)
        super().__setitem__(key, config)

    def hold_value(self, key: int, value: Any) -> bool:
        """Keeps `value` for a config not built yet (put in when it is); False if built."""
        if key not in self._keys or dict.__contains__(self, key):
            return False
        self._values[key] = value
        return True

    def __contains__(self, key: object) -> bool:
        return key in self._keys or dict.__contains__(self, key)

    def _all(self) -> None:
        """Every config, in the blocks' order (as Gradio's own dict has them)."""
        built = {key: self[key] for key in self._keys}
        rest = {k: v for k, v in dict.items(self) if k not in built}
        self.clear()
        self.update({**built, **rest})

    def items(self) -> Any:
        self._all()
        return super().items()

    def values(self) -> Any:
        self._all()
        return super().values()

    def __iter__(self) -> Iterator[int]:
        self._all()
        return super().__iter__()

    def __len__(self) -> int:
        return len(self._keys.keys() | self.keys())


class LazySessionState(SessionState):
    def __init__(self, blocks: gr.Blocks) -> None:
        # Gradio's own setup, given no blocks to build configs for.
        super().__init__(SimpleNamespace(default_config=blocks.default_config, blocks={}))  # type: ignore[arg-type]
        self.config_values = self._configs = _Configs(
            self.blocks_config, {k: None for k in self.blocks_config.blocks if k in blocks.blocks})

    def _update_value_in_config(self, key: int, value: Any) -> None:
        """Gradio calls this for every input and output of every event."""
        if not self._configs.hold_value(key, value):
            super()._update_value_in_config(key, value)


class LazyStateHolder(StateHolder):
    def __getitem__(self, session_id: str) -> SessionState:
        if session_id not in self.session_data:
            self.session_data[session_id] = LazySessionState(self.blocks)
        return super().__getitem__(session_id)


def use_lazy_session_state(demo: gr.Blocks) -> None:
    """Call once `demo` is launched, before any visitor arrives."""
    server = demo.server_app
    holder = LazyStateHolder()
    holder.set_blocks(demo)
    holder.session_data.update(server.state_holder.session_data)
    server.state_holder = holder
