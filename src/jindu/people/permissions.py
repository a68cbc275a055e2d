"""Permission codes of the people app."""

VIEW_PERSON = "people.view_person"
CHANGE_PERSON = "people.change_person"
# The designated role that may open a sealed (无感化) record of its own org unit, after breaking the glass.
OPEN_SEALED_PERSON = "people.open_sealed_person"
# Confirm a risk colour, record 戒断三年 and 无感化 assessments (the office, not the worker alone).
ASSESS_PERSON = "people.assess_person"
# Assign persons to social workers and see caseloads.
ASSIGN_WORKER = "people.assign_worker"
