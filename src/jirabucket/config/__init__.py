"""Configuration: settings from arguments, the environment and ``jirabucket.toml``.

Tokens are not configuration: they come only from the environment
(:mod:`jirabucket.tokens`).
"""

from jirabucket.config.settings import (
    KEY_SOURCES,
    BitbucketSettings,
    CheckPrSettings,
    JiraSettings,
    KeySource,
    QueueSettings,
    ServeSettings,
    Settings,
    SyncSettings,
    config_file,
    default_state_dir,
    load_settings,
    read_toml,
)

__all__ = [
    "KEY_SOURCES",
    "BitbucketSettings",
    "CheckPrSettings",
    "JiraSettings",
    "KeySource",
    "QueueSettings",
    "ServeSettings",
    "Settings",
    "SyncSettings",
    "config_file",
    "default_state_dir",
    "load_settings",
    "read_toml",
]
