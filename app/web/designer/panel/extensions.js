/* Reading and writing the spiffworkflow extension elements of a diagram element through bpmn-js commands,
   so each edit is one undoable step and fires commandStack.changed (the modeler's live check listens). */
import { getBusinessObject, is } from 'bpmn-js/lib/util/ModelUtil';

export function findExtension(bo, type) {
  var ext = bo && bo.get('extensionElements');
  return ext ? (ext.get('values') || []).find(function (v) { return is(v, type); }) : undefined;
}

function ensureExtensionElements(element, bo, injector) {
  var ext = bo.get('extensionElements');
  if (ext) { return ext; }
  ext = injector.get('bpmnFactory').create('bpmn:ExtensionElements', { values: [] });
  ext.$parent = bo;
  injector.get('modeling').updateModdleProperties(element, bo, { extensionElements: ext });
  return ext;
}

export function ensureExtension(element, bo, type, attrs, injector) {
  var found = findExtension(bo, type);
  if (found) { return found; }
  var ext = ensureExtensionElements(element, bo, injector);
  var created = injector.get('bpmnFactory').create(type, attrs || {});
  created.$parent = ext;
  injector.get('modeling').updateModdleProperties(element, ext, { values: ext.get('values').concat([created]) });
  return created;
}

export function removeExtension(element, bo, type, injector) {
  var found = findExtension(bo, type);
  if (!found) { return; }
  var ext = bo.get('extensionElements');
  injector.get('modeling').updateModdleProperties(element, ext, {
    values: ext.get('values').filter(function (v) { return v !== found; })
  });
}

/* <spiffworkflow:properties><spiffworkflow:property name="…" value="…"/></…> */
export function getProperty(element, name) {
  var props = findExtension(getBusinessObject(element), 'spiffworkflow:Properties');
  var prop = props && props.get('properties').find(function (p) { return p.name === name; });
  return prop ? prop.value || '' : '';
}

export function setProperty(element, name, value, injector) {
  var bo = getBusinessObject(element);
  var modeling = injector.get('modeling');
  var props = findExtension(bo, 'spiffworkflow:Properties');
  var prop = props && props.get('properties').find(function (p) { return p.name === name; });
  if (!value) {
    if (prop) {
      modeling.updateModdleProperties(element, props, {
        properties: props.get('properties').filter(function (p) { return p !== prop; })
      });
    }
    return;
  }
  if (prop) { modeling.updateModdleProperties(element, prop, { value: value }); return; }
  props = ensureExtension(element, bo, 'spiffworkflow:Properties', { properties: [] }, injector);
  prop = injector.get('bpmnFactory').create('spiffworkflow:Property', { name: name, value: value });
  prop.$parent = props;
  modeling.updateModdleProperties(element, props, { properties: props.get('properties').concat([prop]) });
}

/* Extensions whose text is their value: preScript, postScript, messageVariable, messagePayload. */
export function getBody(bo, type) {
  var found = findExtension(bo, type);
  return found ? found.value || '' : '';
}

export function setBody(element, bo, type, value, injector) {
  if (!value) { removeExtension(element, bo, type, injector); return; }
  var found = findExtension(bo, type);
  if (found) { injector.get('modeling').updateModdleProperties(element, found, { value: value }); return; }
  ensureExtension(element, bo, type, { value: value }, injector);
}
