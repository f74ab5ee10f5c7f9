/* Our properties provider: the gridcase properties of user tasks, service tasks, scripts, conditions,
   messages, call activities and business rule tasks, as groups after bpmn-js-properties-panel's own (name, id, timer, message).
   Labels are English msgids put through bpmn-js's translate service (i18n.js has the zh-CN words). */
import {
  CheckboxEntry, Group, SelectEntry, TextAreaEntry, TextFieldEntry,
  isCheckboxEntryEdited, isSelectEntryEdited, isTextAreaEntryEdited, isTextFieldEntryEdited
} from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { getBusinessObject, is } from 'bpmn-js/lib/util/ModelUtil';

import { getBody, getProperty, setBody, setProperty, findExtension, ensureExtension, removeExtension } from './extensions';
import { getVocabulary } from './vocabulary';

var PYTHON_HINT = 'A Python expression, checked by the deploy rules as you type.';

/* --- small entry factories ------------------------------------------------------------------------ */

function textEntry(id, label, get, set, options) {
  options = options || {};
  function Component(props) {
    var translate = useService('translate');
    var debounce = useService('debounceInput');
    var injector = useService('injector');
    var Entry = options.area ? TextAreaEntry : TextFieldEntry;
    return <Entry id={id} element={props.element} label={translate(label)}
      description={options.description ? translate(options.description) : undefined}
      monospace={options.area} rows={options.rows || 4} debounce={debounce}
      getValue={function () { return get(props.element); }}
      setValue={function (value) { set(props.element, (value || '').trim() ? value : '', injector); }} />;
  }
  return { id: id, component: Component, isEdited: options.area ? isTextAreaEntryEdited : isTextFieldEntryEdited };
}

function selectEntry(id, label, get, set, options) {
  function Component(props) {
    var translate = useService('translate');
    var injector = useService('injector');
    var current = get(props.element);
    var choices = [{ value: '', label: translate('<none>') }].concat(options(translate));
    if (current && !choices.some(function (c) { return c.value === current; })) {
      choices.push({ value: current, label: current });
    }
    var chosen = choices.find(function (c) { return c.value === current; });
    return <SelectEntry id={id} element={props.element} label={translate(label)}
      description={chosen && chosen.description}
      getValue={function () { return current; }}
      getOptions={function () { return choices; }}
      setValue={function (value) { set(props.element, value, injector); }} />;
  }
  return { id: id, component: Component, isEdited: isSelectEntryEdited };
}

function propertyText(name, label, description) {
  return textEntry('gc-property-' + name, label,
    function (el) { return getProperty(el, name); },
    function (el, value, injector) { setProperty(el, name, value, injector); },
    { description: description });
}

/* --- user tasks ----------------------------------------------------------------------------------- */

function rolesOf(element) {
  return getProperty(element, 'candidateRoles').split(',').map(function (r) { return r.trim(); }).filter(Boolean);
}

function roleEntry(role) {
  var id = 'gc-role-' + role.value;
  function Component(props) {
    var injector = useService('injector');
    return <CheckboxEntry id={id} element={props.element} label={role.label}
      getValue={function (el) { return rolesOf(el).indexOf(role.value) >= 0; }}
      setValue={function (checked) {
        var roles = rolesOf(props.element).filter(function (r) { return r !== role.value; });
        if (checked) { roles.push(role.value); }
        setProperty(props.element, 'candidateRoles', roles.join(','), injector);
      }} />;
  }
  return { id: id, component: Component, isEdited: isCheckboxEntryEdited };
}

/* candidateGroup is an expression: a picked unit is written as its quoted code. */
function unquote(value) {
  var match = /^"([^"]*)"$/.exec(value || '');
  return match ? match[1] : value;
}

function userTaskGroups(element, translate) {
  var formEntry = selectEntry('gc-form', 'Form',
    function (el) { return getProperty(el, 'formJsonSchemaFilename'); },
    function (el, value, injector) { setProperty(el, 'formJsonSchemaFilename', value, injector); },
    function () { return getVocabulary().forms.map(function (f) { return { value: f, label: f }; }); });
  var unitEntry = selectEntry('gc-property-candidateGroup', 'Candidate unit',
    function (el) { return unquote(getProperty(el, 'candidateGroup')); },
    function (el, value, injector) { setProperty(el, 'candidateGroup', value ? '"' + value + '"' : '', injector); },
    function () {
      return getVocabulary().units.map(function (u) { return { value: u.value, label: u.label + ' (' + u.value + ')' }; });
    });
  /* The two required properties first (form, roles), then the optional ones. */
  return [
    { id: 'gc-user-task', label: translate('Task settings'), component: Group, shouldOpen: true, entries: [formEntry] },
    { id: 'gc-candidate-roles', label: translate('Candidate roles'), component: Group, shouldOpen: true,
      entries: getVocabulary().roles.map(roleEntry) },
    { id: 'gc-assignment', label: translate('Assignment and due time'), component: Group, shouldOpen: true, entries: [
      propertyText('candidateUser', 'Candidate user', 'An expression giving a username: that user gets the task.'),
      unitEntry,
      propertyText('assigneeFrom', 'Assignee from', 'The id of an earlier task: whoever completed it gets this one.'),
      propertyText('dueAt', 'Due at', 'An expression giving an ISO time, e.g. add_hours(now(), 24).'),
      propertyText('gridCode', 'Grid code', 'For a task without a case: an expression giving its grid code.'),
      propertyText('caseStatus', 'Case status', 'The case status while this task is open.')
    ] }
  ];
}

/* --- service tasks -------------------------------------------------------------------------------- */

function operatorOf(element) {
  return findExtension(getBusinessObject(element), 'spiffworkflow:ServiceTaskOperator');
}

/* Parameters as lines "name = expression" (the engine evaluates each value; the type is informative). */
function parametersText(element) {
  var op = operatorOf(element);
  var list = op && op.get('parameterList');
  return list ? list.get('parameters').map(function (p) { return p.id + ' = ' + (p.value || ''); }).join('\n') : '';
}

function setParameters(element, text, injector) {
  var bo = getBusinessObject(element);
  var factory = injector.get('bpmnFactory');
  var op = ensureExtension(element, bo, 'spiffworkflow:ServiceTaskOperator', {}, injector);
  var old = {};
  (op.get('parameterList') ? op.get('parameterList').get('parameters') : []).forEach(function (p) { old[p.id] = p.type; });
  var params = (text || '').split('\n').map(function (line) {
    var at = line.indexOf('=');
    if (at < 1) { return null; }
    var id = line.slice(0, at).trim();
    return factory.create('spiffworkflow:Parameter', { id: id, type: old[id] || 'any', value: line.slice(at + 1).trim() });
  }).filter(Boolean);
  var list = factory.create('spiffworkflow:Parameters', { parameters: params });
  list.$parent = op;
  params.forEach(function (p) { p.$parent = list; });
  injector.get('modeling').updateModdleProperties(element, op, { parameterList: params.length ? list : undefined });
}

function serviceTaskGroups(element, translate) {
  var operator = selectEntry('gc-operator', 'Operator',
    function (el) { var op = operatorOf(el); return op ? op.id || '' : ''; },
    function (el, value, injector) {
      var bo = getBusinessObject(el);
      if (!value) { removeExtension(el, bo, 'spiffworkflow:ServiceTaskOperator', injector); return; }
      var op = ensureExtension(el, bo, 'spiffworkflow:ServiceTaskOperator', { id: value }, injector);
      injector.get('modeling').updateModdleProperties(el, op, { id: value });
    },
    function () {
      return getVocabulary().operators.map(function (o) { return { value: o.value, label: o.value, description: o.description }; });
    });
  var result = textEntry('gc-result-variable', 'Result variable',
    function (el) { var op = operatorOf(el); return op ? op.resultVariable || '' : ''; },
    function (el, value, injector) {
      var op = ensureExtension(el, getBusinessObject(el), 'spiffworkflow:ServiceTaskOperator', {}, injector);
      injector.get('modeling').updateModdleProperties(el, op, { resultVariable: value || undefined });
    });
  var params = textEntry('gc-parameters', 'Parameters', parametersText, setParameters,
    { area: true, description: 'One per line: name = Python expression.' });
  return [{ id: 'gc-service-task', label: translate('Service'), component: Group, shouldOpen: true, entries: [operator, result, params] }];
}

/* --- scripts, conditions, messages, calls ---------------------------------------------------------- */

function scriptGroups(element, translate) {
  var entries = [];
  if (is(element, 'bpmn:ScriptTask')) {
    entries.push(textEntry('gc-script', 'Script',
      function (el) { return getBusinessObject(el).script || ''; },
      function (el, value, injector) {
        injector.get('modeling').updateModdleProperties(el, getBusinessObject(el), { scriptFormat: 'python', script: value || undefined });
      }, { area: true, rows: 6, description: 'Python, run in the sandbox.' }));
  }
  [['spiffworkflow:PreScript', 'gc-pre-script', 'Pre-script'], ['spiffworkflow:PostScript', 'gc-post-script', 'Post-script']]
    .forEach(function (spec) {
      entries.push(textEntry(spec[1], spec[2],
        function (el) { return getBody(getBusinessObject(el), spec[0]); },
        function (el, value, injector) { setBody(el, getBusinessObject(el), spec[0], value, injector); },
        { area: true }));
    });
  return [{ id: 'gc-scripts', label: translate('Scripts'), component: Group, shouldOpen: is(element, 'bpmn:ScriptTask'), entries: entries }];
}

function isConditional(element) {
  var bo = getBusinessObject(element);
  var source = bo.sourceRef;
  return is(element, 'bpmn:SequenceFlow') && source &&
    (is(source, 'bpmn:ExclusiveGateway') || is(source, 'bpmn:InclusiveGateway')) && source.default !== bo;
}

function conditionGroups(element, translate) {
  var entry = textEntry('gc-condition', 'Condition',
    function (el) { var c = getBusinessObject(el).conditionExpression; return c ? c.body || '' : ''; },
    function (el, value, injector) {
      var expression = value ? injector.get('bpmnFactory').create('bpmn:FormalExpression', { body: value }) : undefined;
      injector.get('modeling').updateProperties(el, { conditionExpression: expression });
    }, { description: PYTHON_HINT });
  return [{ id: 'gc-condition-group', label: translate('Condition'), component: Group, shouldOpen: true, entries: [entry] }];
}

function messageDefinition(element) {
  var bo = getBusinessObject(element);
  if (is(bo, 'bpmn:ReceiveTask') || is(bo, 'bpmn:SendTask')) { return bo; }
  return (bo.eventDefinitions || []).find(function (d) { return is(d, 'bpmn:MessageEventDefinition'); });
}

function messageGroups(element, translate) {
  var definition = messageDefinition(element);
  var bo = getBusinessObject(element);
  var catching = is(bo, 'bpmn:CatchEvent') || is(bo, 'bpmn:ReceiveTask');
  var type = catching ? 'spiffworkflow:MessageVariable' : 'spiffworkflow:MessagePayload';
  var entry = textEntry(catching ? 'gc-message-variable' : 'gc-message-payload',
    catching ? 'Message variable' : 'Message payload',
    function () { return getBody(definition, type); },
    function (el, value, injector) { setBody(el, definition, type, value, injector); },
    { description: catching ? 'The task data name that receives the message payload (without it the payload is dropped).'
      : 'A Python expression: the payload sent with the message.' });
  return [{ id: 'gc-message', label: translate('Message data'), component: Group, shouldOpen: true, entries: [entry] }];
}

/* Which version of the called process runs (app/workflow/call_binding.py): the property absent is the
   default, "deployment"; each choice explains itself in one line under the select. */
var BINDINGS = [
  { value: 'deployment', label: 'Version at deployment',
    description: 'The called process as it was when this process was deployed (the default).' },
  { value: 'latest', label: 'Latest published version, at call start',
    description: 'The newest published version of the called process when the call starts: its later versions apply to new calls.' }
];

function bindingEntry() {
  var id = 'gc-binding';
  function Component(props) {
    var translate = useService('translate');
    var injector = useService('injector');
    var current = getProperty(props.element, 'calledElementBinding') || 'deployment';
    var choices = BINDINGS.map(function (b) {
      return { value: b.value, label: translate(b.label), description: translate(b.description) };
    });
    if (!choices.some(function (c) { return c.value === current; })) {
      choices.push({ value: current, label: current });  /* a wrong value stays visible: the checks name it */
    }
    var chosen = choices.find(function (c) { return c.value === current; });
    return <SelectEntry id={id} element={props.element} label={translate('Version binding')}
      description={chosen.description}
      getValue={function () { return current; }}
      getOptions={function () { return choices; }}
      setValue={function (value) {
        setProperty(props.element, 'calledElementBinding', value === 'deployment' ? '' : value, injector);
      }} />;
  }
  return { id: id, component: Component, isEdited: function () { return false; } };
}

function callGroups(element, translate) {
  var entry = selectEntry('gc-called-element', 'Called process',
    function (el) { return getBusinessObject(el).calledElement || ''; },
    function (el, value, injector) { injector.get('modeling').updateProperties(el, { calledElement: value || undefined }); },
    function () { return getVocabulary().processes.map(function (p) { return { value: p.value, label: p.label + ' (' + p.value + ')' }; }); });
  return [{ id: 'gc-call', label: translate('Called process'), component: Group, shouldOpen: true, entries: [entry, bindingEntry()] }];
}

/* A business rule task calls a decision of a deployed table (DMN) by id: the server lists them. */
function decisionGroups(element, translate) {
  var entry = selectEntry('gc-decision', 'Decision',
    function (el) { return getBody(getBusinessObject(el), 'spiffworkflow:CalledDecisionId').trim(); },
    function (el, value, injector) { setBody(el, getBusinessObject(el), 'spiffworkflow:CalledDecisionId', value, injector); },
    function (t) {
      return getVocabulary().decisions.map(function (d) {
        return { value: d.value, label: d.label + ' (' + d.value + ')',
          description: t('In the decision table {table}.', { table: d.table_name + ' (' + d.table + ')' }) };
      });
    });
  return [{ id: 'gc-business-rule', label: translate('Decision'), component: Group, shouldOpen: true, entries: [entry] }];
}

export function gridcaseGroups(element, translate) {
  var groups = [];
  if (is(element, 'bpmn:UserTask')) { groups = groups.concat(userTaskGroups(element, translate)); }
  if (is(element, 'bpmn:ServiceTask')) { groups = groups.concat(serviceTaskGroups(element, translate)); }
  if (is(element, 'bpmn:CallActivity')) { groups = groups.concat(callGroups(element, translate)); }
  if (is(element, 'bpmn:BusinessRuleTask')) { groups = groups.concat(decisionGroups(element, translate)); }
  if (isConditional(element)) { groups = groups.concat(conditionGroups(element, translate)); }
  if (messageDefinition(element) && (is(element, 'bpmn:Event') || is(element, 'bpmn:Task'))) {
    groups = groups.concat(messageGroups(element, translate));
  }
  if (is(element, 'bpmn:Activity')) { groups = groups.concat(scriptGroups(element, translate)); }
  return groups;
}

function GridcasePropertiesProvider(propertiesPanel, translate) {
  this.getGroups = function (element) {
    return function (groups) {
      var ours = gridcaseGroups(element, translate);
      /* Ours right after "General", where the designer looks first. */
      var general = groups.findIndex(function (g) { return g.id === 'general'; });
      groups.splice(general + 1, 0, ...ours);
      return groups;
    };
  };
  propertiesPanel.registerProvider(400, this);  /* after getGroups: the panel checks for it */
}
GridcasePropertiesProvider.$inject = ['propertiesPanel', 'translate'];

export default {
  __init__: ['gridcasePropertiesProvider'],
  gridcasePropertiesProvider: ['type', GridcasePropertiesProvider]
};
