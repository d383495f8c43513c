// The runtime every flowdesk JavaScript context starts with (see flowdesk/engine/languages/javascript.py).
// It owns the `execution` object and the conversion of values going out; it calls nothing on
// the host. Python hands it one JSON payload and gets one JSON text back.
(function () {
  var hasOwn = Object.prototype.hasOwnProperty;
  // Deep enough that a failure inside nested values still shows the script's frames.
  Error.stackTraceLimit = 200;
  var MAX_DEPTH = 32;

  function plain(value, what, depth, root) {
    root = root || what;
    if (value === undefined || value === null) return null;
    var type = typeof value;
    if (type === 'boolean' || type === 'string') return value;
    if (type === 'number') {
      if (!isFinite(value)) {
        throw new TypeError(what + ' is ' + value + ', which cannot be stored (only finite numbers)');
      }
      return value;
    }
    if (type === 'bigint') {
      if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw new TypeError(what + ' is a BigInt too large to be stored');
      }
      return Number(value);
    }
    if (type === 'object') {
      if (depth > MAX_DEPTH) {
        throw new TypeError(root + ' nests deeper than ' + MAX_DEPTH + ' levels (or is cyclic) and cannot be stored');
      }
      if (value instanceof Date) {
        if (isNaN(value.getTime())) throw new TypeError(what + ' is an invalid Date and cannot be stored');
        return value.toISOString();
      }
      if (value instanceof String || value instanceof Number || value instanceof Boolean) {
        return plain(value.valueOf(), what, depth, root);
      }
      if (Array.isArray(value)) {
        var list = [];
        for (var i = 0; i < value.length; i++) list.push(plain(value[i], what + '[' + i + ']', depth + 1, root));
        return list;
      }
      var proto = Object.getPrototypeOf(value);
      if (proto === Object.prototype || proto === null) {
        var copy = {};
        var keys = Object.keys(value);
        for (var k = 0; k < keys.length; k++) {
          copy[keys[k]] = plain(value[keys[k]], what + '.' + keys[k], depth + 1, root);
        }
        return copy;
      }
    }
    var kind = type === 'object' ? 'an object of class ' + ((value.constructor && value.constructor.name) || '?') : 'a ' + type;
    throw new TypeError(what + ' is ' + kind + ', which cannot be stored (only JSON-like values)');
  }

  function name(value) {
    if (typeof value !== 'string') throw new TypeError('a variable name must be a string, not ' + typeof value);
    return value;
  }

  function text(value, what) {
    if (value === undefined || value === null) return null;
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    throw new TypeError(what + ' must be a string, not ' + typeof value);
  }

  function dateText(value, what) {
    if (value === undefined || value === null) return null;
    if (value instanceof Date) return plain(value, what, 0);
    if (typeof value === 'string') return value;
    throw new TypeError(what + ' must be a Date or ISO-8601 text, not ' + typeof value);
  }

  // Camunda's DelegateTask, over the facts Python passes; setters record into `changes`.
  function delegateTask(facts, changes, execution) {
    var state = Object.assign({}, facts);
    function set(field, value) { state[field] = value; changes[field] = value; }
    function addTo(field, value) {
      value = text(value, field);
      var list = state[field].slice();
      if (value !== null && list.indexOf(value) < 0) list.push(value);
      set(field, list);
    }
    function removeFrom(field, value) {
      set(field, state[field].filter(function (x) { return x !== value; }));
    }
    function asDate(iso) { return iso === null ? null : new Date(iso); }
    var task = {
      getId: function () { return state.id; },
      getName: function () { return state.name; },
      getDescription: function () { return state.description; },
      getAssignee: function () { return state.assignee; },
      getOwner: function () { return state.owner; },
      getPriority: function () { return state.priority; },
      getTaskDefinitionKey: function () { return state.taskDefinitionKey; },
      getEventName: function () { return state.eventName; },
      getDueDate: function () { return asDate(state.dueDate); },
      getFollowUpDate: function () { return asDate(state.followUpDate); },
      getProcessInstanceId: function () { return execution.getProcessInstanceId(); },
      getProcessDefinitionId: function () { return execution.getProcessDefinitionId(); },
      getExecution: function () { return execution; },
      setName: function (v) { set('name', text(v, 'name')); },
      setDescription: function (v) { set('description', text(v, 'description')); },
      setAssignee: function (v) { set('assignee', text(v, 'assignee')); },
      setOwner: function (v) { set('owner', text(v, 'owner')); },
      setPriority: function (v) {
        if (typeof v !== 'number' || !isFinite(v)) throw new TypeError('priority must be a number');
        set('priority', Math.trunc(v));
      },
      setDueDate: function (v) { set('dueDate', dateText(v, 'due date')); },
      setFollowUpDate: function (v) { set('followUpDate', dateText(v, 'follow-up date')); },
      addCandidateUser: function (v) { addTo('candidateUsers', v); },
      addCandidateUsers: function (vs) { Array.from(vs).forEach(function (v) { addTo('candidateUsers', v); }); },
      addCandidateGroup: function (v) { addTo('candidateGroups', v); },
      addCandidateGroups: function (vs) { Array.from(vs).forEach(function (v) { addTo('candidateGroups', v); }); },
      deleteCandidateUser: function (v) { removeFrom('candidateUsers', v); },
      deleteCandidateGroup: function (v) { removeFrom('candidateGroups', v); }
    };
    ['getVariable', 'getVariableLocal', 'hasVariable', 'hasVariableLocal', 'getVariables',
     'setVariable', 'setVariableLocal', 'removeVariable'].forEach(function (m) {
      task[m] = execution[m];
    });
    return Object.freeze(task);
  }

  globalThis.__flowdesk_check__ = function (probe) {
    try {
      (0, eval)(probe);
    } catch (err) {
      if (err instanceof ReferenceError && String(err.message).indexOf('__flowdesk_parsed__') >= 0) return;
      throw err;
    }
  };

  globalThis.__flowdesk_run__ = function (payload, source) {
    var input = JSON.parse(payload);
    var variables = input.variables;
    var facts = input.execution;
    var written = {}, local = {}, removed = {};
    var localNames = {};
    input.localNames.forEach(function (n) { localNames[n] = true; });
    function isLocal(n) {
      return hasOwn.call(variables, n) && (hasOwn.call(local, n) || hasOwn.call(localNames, n));
    }
    var execution = {
      getVariable: function (n) { n = name(n); return hasOwn.call(variables, n) ? variables[n] : null; },
      getVariableLocal: function (n) { n = name(n); return isLocal(n) ? variables[n] : null; },
      hasVariable: function (n) { n = name(n); return hasOwn.call(variables, n); },
      hasVariableLocal: function (n) { n = name(n); return isLocal(n); },
      getVariables: function () { return Object.assign({}, variables); },
      setVariable: function (n, v) {
        n = name(n);
        var value = plain(v, 'variable ' + JSON.stringify(n), 0);
        variables[n] = value; written[n] = value; delete removed[n];
      },
      setVariableLocal: function (n, v) {
        n = name(n);
        var value = plain(v, 'variable ' + JSON.stringify(n), 0);
        variables[n] = value; local[n] = value; delete written[n]; delete removed[n];
      },
      removeVariable: function (n) {
        n = name(n);
        delete variables[n]; delete written[n]; delete local[n]; removed[n] = true;
      },
      getProcessInstanceId: function () { return facts.processInstanceId; },
      getBusinessKey: function () { return facts.businessKey; },
      getProcessBusinessKey: function () { return facts.businessKey; },
      getCurrentActivityId: function () { return facts.activityId; },
      getActivityId: function () { return facts.activityId; },
      getProcessDefinitionId: function () { return facts.processDefinitionId; },
      getEventName: function () { return facts.eventName; },
      toString: function () { return 'Execution[' + facts.processInstanceId + ']'; }
    };
    Object.freeze(execution);
    var taskFacts = input.task;
    var taskChanges = {};
    if (taskFacts !== null) {
      // A task listener's script sees Camunda's DelegateTask as `task` and no `execution`.
      globalThis.task = delegateTask(taskFacts, taskChanges, execution);
    } else if (facts !== null) {
      globalThis.execution = execution;
    }
    var identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
    Object.keys(variables).forEach(function (n) {
      if (identifier.test(n) && !(n in globalThis)) globalThis[n] = variables[n];
    });
    delete globalThis.__flowdesk_run__;
    delete globalThis.__flowdesk_check__;
    var value = (0, eval)(source);
    return JSON.stringify({
      value: plain(value, 'the script result', 0),
      variables: written,
      local: local,
      removed: Object.keys(removed),
      task: taskChanges
    });
  };
})();
