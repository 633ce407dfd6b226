package policy

// Section names a policy section.
type Section uint8

// The policy sections, in the order they must appear and run.
const (
	Configuration Section = iota // configurationrules (1.1+)
	Authorization                // authorizationrules
	Issuance                     // issuancerules
)

var sectionNames = [...]string{"configurationrules", "authorizationrules", "issuancerules"}

func (s Section) String() string { return sectionNames[s] }

type field uint8

const (
	fType field = iota
	fValue
	fIssuer
	fValueType
)

var fieldNames = [...]string{"type", "value", "issuer", "valueType"}

func (f field) String() string { return fieldNames[f] }

type section struct {
	kind  Section
	rules []*rule
	pos   int
}

type rule struct {
	sec    Section
	index  int // 1-based within its section
	line   int
	start  int // byte offsets of the rule text
	end    int
	conds  []*cond
	act    action
	binds  []string // identifier names by slot
	label  string   // "authorizationrules rule 2 (line 5)"
	permit string   // precomputed reason when this rule permits
}

type cond struct {
	negate bool
	slot   int // binding slot, -1 if none
	props  []prop
	order  []int // evaluation order of props: type==literal first
	start  int
	end    int
	line   int
	col    int
	// typeLit is the claim type the condition names with type=="...", if any.
	typeLit string
	hasType bool
	dynamic bool // some operand is not a literal
}

type prop struct {
	f   field
	o   op
	rhs *expr
	pos int
}

type exprKind uint8

const (
	eLit exprKind = iota
	eRef
	eCall
)

type expr struct {
	kind   exprKind
	lit    value
	slot   int   // eRef
	f      field // eRef
	name   string
	fn     *function
	args   []*expr
	static kind // static type; kNone when only known at run time
	pos    int
	end    int
	query  *jmesNode // precompiled literal JmesPath query (second argument)
}

type actionKind uint8

const (
	aPermit actionKind = iota
	aDeny
	aAdd
	aIssue
	aIssueProperty
)

var actionNames = [...]string{"permit", "deny", "add", "issue", "issueproperty"}

type action struct {
	kind      actionKind
	asAdd     bool // issue() in authorizationrules: only adds to the incoming set
	claimSlot int  // claim=c form; -1 otherwise
	typ       *expr
	val       *expr
	valueType string
	pos       int
	text      string
}
