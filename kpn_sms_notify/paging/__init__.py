"""Two-way paging for `kpn-sms serve`: pages carry a reference, replies acknowledge them.

Alertmanager holds the state, so replicas share no database: escalation steps are
Alertmanager routes (sibling routes with `continue: true` and staged `group_wait`, one
receiver per step pointing at `/paging/{chain}/{step}`), and an acknowledgement is an
Alertmanager silence that serve keeps alive while the group fires and expires when it
resolves.

Modules: config (the `serve.paging:` section), durations, alertmanager (the API client),
incidents (groups, references, silence matchers and comments), texts (what a phone reads),
engine (pages, replies, keep-alive and resolution), routes (the Alertmanager route config
serve prints).
"""
