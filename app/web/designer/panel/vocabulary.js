/* The values the pickers offer, from the designer's /design/vocabulary.json (modeler.js sets them). */
var vocabulary = { forms: [], roles: [], units: [], operators: [], processes: [], decisions: [] };

export function setVocabulary(value) { vocabulary = Object.assign({}, vocabulary, value || {}); }
export function getVocabulary() { return vocabulary; }
