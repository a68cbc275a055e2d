from jindu.people.models.enrollments import (
    ACTIVE_STATUSES,
    TRANSITIONS,
    Enrollment,
    EnrollmentStatus,
    Measure,
)
from jindu.people.models.persons import Person, Sex
from jindu.people.models.records import Contact, ContactKind, DrugTest, TestKind, TestResult

__all__ = [
    "ACTIVE_STATUSES",
    "TRANSITIONS",
    "Contact",
    "ContactKind",
    "DrugTest",
    "Enrollment",
    "EnrollmentStatus",
    "Measure",
    "Person",
    "Sex",
    "TestKind",
    "TestResult",
]
