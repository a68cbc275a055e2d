from jindu.people.models.persons import Person, Sex

__all__ = ["Person", "Sex"]
