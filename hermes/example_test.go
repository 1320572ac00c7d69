package hermes_test

import (
	"fmt"
	"math/big"
	"time"

	"github.com/mystp2p/mystp2p/hermes"
)

func ExamplePrice_Cost() {
	price := hermes.Price{PerHour: big.NewInt(3_600_000), PerGiB: big.NewInt(1_000_000)}
	used := hermes.Usage{Duration: 90 * time.Second, Bytes: hermes.GiB / 2}
	total := price.Cost(used)
	fmt.Println("total:", total, "hermes fee at 2.5 %:", hermes.RequiredFee(total, 250))
	fmt.Println("a consumer that measured the same pays up to:", hermes.DefaultTolerance.Allowed(price, used))
	// Output:
	// total: 590000 hermes fee at 2.5 %: 14750
	// a consumer that measured the same pays up to: 631024
}
