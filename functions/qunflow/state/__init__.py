"""qunflow's memory: what it must never forget, in a real database, apart from the operators' sheet.

The send ledger (one record per send id, claimed just before its POST), what a send decided about a member
(a coupon bound to them, their welcome, a reward), the event inbox and its dedup, cursors such as
`last_tick`, and leases (one run at a time, in the cloud). One small interface
(`state.base.StateStore`), two backends that pass one contract suite (tests/test_state_contract.py):

- `SqliteState`: the embedded default, stdlib sqlite3 in WAL mode, one file beside the workbook.
- `FirestoreState`: Firestore (Native mode) in the cloud, through google-cloud-firestore.

May import nothing else of qunflow but `clock`: records are plain values, so every room above can use it.
"""
