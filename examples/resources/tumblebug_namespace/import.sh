# A namespace is imported by its name.
terraform import tumblebug_namespace.team_a team-a
