/* The properties panel bundle (built by `make setup` with esbuild; never committed): what modeler.js adds to
   the bpmn-js UMD modeler, as window.GridcasePanel. */
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from 'bpmn-js-properties-panel';

import spiffworkflow from './spiffworkflow.json';
import provider from './provider';
import problems from './problems';
import { translatorFor } from './i18n';
import { setVocabulary } from './vocabulary';

window.GridcasePanel = {
  moddleExtensions: { spiffworkflow: spiffworkflow },
  setVocabulary: setVocabulary,
  /* The panel's own groups the designer needs open: ours open themselves (shouldOpen). */
  layout: { groups: { general: { open: true }, timer: { open: true }, message: { open: true } } },
  /* The modules for `additionalModules`, with bpmn-js's translate service in the page's language. */
  modules: function (locale) {
    return [
      { translate: ['value', translatorFor(locale)] },
      BpmnPropertiesPanelModule,
      BpmnPropertiesProviderModule,
      provider,
      problems
    ];
  }
};
