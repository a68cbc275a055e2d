"""Permission codes of the people app."""

VIEW_PERSON = "people.view_person"
CHANGE_PERSON = "people.change_person"
