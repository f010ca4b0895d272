/**
 * What every task flow of the front desk (burn, import, verify, settings) is given by the app: the
 * services that do the work, the operator signed in, and the way back to the home screen.
 */
import type { DeskServices, OperatorInfo } from './desk.js';

export interface FlowProps {
  readonly desk: DeskServices;
  readonly operator: OperatorInfo;
  /** Back to the home screen (Esc on a flow's first step, or Enter on its last). */
  readonly home: () => void;
  /** The clock the progress figures use (tests pin it). */
  readonly now?: () => number;
}
