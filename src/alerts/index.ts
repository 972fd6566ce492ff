export { AlertBook, type AlertBookOptions, type AlertConfig, stateChangeId } from './book.js';
export { initialState, type NextResult, next, type Transition } from './state.js';
