"""SOP: the operators' own languages and ready-made calendars. Pure, and the lowest room: it imports nothing
else of qunflow.

The schedule language of the SOP tab (`schedule`, `schedule_parse`), message templates rendered in a bounded
sandbox (`render`), playbooks (`playbooks`), and where the shipped data (schemas, playbooks, job definitions)
is found (`resources`).
"""
