/* The deploy checks' problems shown on the field they are about: modeler.js fires "gridcase.problems" after
   each check; the selected element's problems go to the panel as entry errors (propertiesPanel.setErrors). */

/* The entry of our provider (or of the panel's own timer group) a problem's English reason is about. */
import { getVocabulary } from './vocabulary';

export function entryOf(problem) {
  var reason = problem.reason || '';
  var rules = [
    [/^pre-script /, 'gc-pre-script'],
    [/^post-script /, 'gc-post-script'],
    [/^script /, 'gc-script'],
    [/^condition |^sequence flow out of an exclusive gateway has no condition/, 'gc-condition'],
    [/^timer /, 'timerEventDefinitionValue'],
    [/^parameter /, 'gc-parameters'],
    [/formJsonSchemaFilename|^form '/, 'gc-form'],
    [/candidateRoles/, 'gc-roles'],
    [/service-task operator|^service task names no operator/, 'gc-operator'],
    [/keeps no payload/, 'gc-message-variable'],
    [/^decision '/, 'gc-decision'],
    [/^calledElementBinding /, 'gc-binding'],
    [/was not found|^call activity names no called process/, 'gc-called-element']
  ];
  for (var i = 0; i < rules.length; i++) {
    if (rules[i][0].test(reason)) { return rules[i][1]; }
  }
  var property = /^property '([A-Za-z]+)'/.exec(reason);
  return property ? 'gc-property-' + property[1] : null;
}

/* The engine keeps a gateway's conditions on the gateway: its problem names the gateway and quotes the
   condition, so a flow owns the gateway's problem that quotes the flow's own condition. */
function isAbout(problem, element) {
  if (problem.element_id === element.id) { return true; }
  var bo = element.businessObject;
  var condition = bo && bo.conditionExpression && bo.conditionExpression.body;
  return !!(condition && bo.sourceRef && problem.element_id === bo.sourceRef.id &&
    /^condition /.test(problem.reason || '') && (problem.reason || '').indexOf(condition.trim()) >= 0);
}

function ProblemsOnFields(eventBus, selection) {
  var problems = [];

  function errorsFor(element) {
    var errors = {};
    if (!element) { return errors; }
    problems.forEach(function (problem) {
      if (problem.severity === 'warning' || !isAbout(problem, element)) { return; }
      var entry = entryOf(problem);
      if (entry === 'gc-roles') {  /* the roles are checkboxes: the first one carries the group's error */
        var roles = getVocabulary().roles;
        entry = roles.length ? 'gc-role-' + roles[0].value : null;
      }
      if (!entry) { return; }
      errors[entry] = errors[entry] ? errors[entry] + '; ' + problem.message : problem.message;
    });
    return errors;
  }

  function publish() {
    var selected = selection.get();
    var element = selected.length === 1 ? selected[0] : null;
    /* A click on a flow's or an event's label selects the label: the panel shows its element's fields. */
    if (element && element.labelTarget) { element = element.labelTarget; }
    eventBus.fire('propertiesPanel.setErrors', { errors: errorsFor(element) });
  }

  eventBus.on('gridcase.problems', function (event) { problems = event.problems || []; publish(); });
  eventBus.on('selection.changed', function () { setTimeout(publish, 0); });
}
ProblemsOnFields.$inject = ['eventBus', 'selection'];

export default { __init__: ['gridcaseProblemsOnFields'], gridcaseProblemsOnFields: ['type', ProblemsOnFields] };
