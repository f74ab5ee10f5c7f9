"""Units (处置单位): property companies, sanitation, utilities, police, fire, street offices,
district bureaus.

A unit serves a set of grids and has members (users whose ``unit_code`` names it). Cases dispatched to a
unit reach its members through the task's candidate group."""
