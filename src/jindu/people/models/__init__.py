from jindu.people.models.enrollments import (
    ACTIVE_STATUSES,
    TRANSITIONS,
    Enrollment,
    EnrollmentStatus,
    Measure,
)
from jindu.people.models.persons import Person, Sex

__all__ = ["ACTIVE_STATUSES", "TRANSITIONS", "Enrollment", "EnrollmentStatus", "Measure", "Person", "Sex"]
