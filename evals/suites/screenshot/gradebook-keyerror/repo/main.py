from gradebook.roster import load_students
from gradebook.stats import course_report

if __name__ == "__main__":
    students = load_students("exports/lms_export.json")
    print(course_report(students))
